/** The months the adjacency analysis runs over: UTC calendar months named YYYY-MM. */

export type Month = { period: string; from: Date; to: Date; days: { from: string; to: string } };

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export class PeriodError extends Error {
  readonly code = 'invalid_period';

  constructor(value: string) {
    super(`"${value}" is not a month: use YYYY-MM (e.g. 2026-06)`);
    this.name = 'PeriodError';
  }
}

export function parseMonth(value: string): Month {
  const m = MONTH.exec(value);
  if (!m) throw new PeriodError(value);
  const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  const to = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1));
  return { period: value, from, to, days: { from: isoDay(from), to: isoDay(to) } };
}

export function monthOf(at: Date): Month {
  return parseMonth(at.toISOString().slice(0, 7));
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
