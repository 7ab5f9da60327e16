import { monthRange } from '../budgets/period.js';

/** The months the adjacency analysis runs over: UTC calendar months named YYYY-MM (monthRange's months). */

export type Month = { period: string; from: Date; to: Date; days: { from: string; to: string } };

export class PeriodError extends Error {
  readonly code = 'invalid_period';

  constructor(value: string) {
    super(`"${value}" is not a month: use YYYY-MM (e.g. 2026-06)`);
    this.name = 'PeriodError';
  }
}

export function parseMonth(value: string): Month {
  let range: { from: Date; to: Date };
  try {
    range = monthRange(value);
  } catch {
    throw new PeriodError(value);
  }
  return { period: value, ...range, days: { from: isoDay(range.from), to: isoDay(range.to) } };
}

export function monthOf(at: Date): Month {
  return parseMonth(at.toISOString().slice(0, 7));
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
