import type { DowngradeGroup } from '../db/downgrades.js';
import { add, compare, parseDecimal, toMoney, ZERO_MONEY } from '../metering/money.js';
import { costOf, type PriceRow } from '../metering/pricing.js';

/**
 * The money the soft cap saved: for each group of downgraded calls, what the requested model would have cost
 * for the same tokens at its price in force (cost is linear in tokens, so a group's token sums price exactly
 * as its calls would one by one) minus what was billed. Pure: groups and price rows in, report out.
 */

export type DowngradeRowOut = {
  bu: string; useCase: string; modelRequested: string; modelServed: string; calls: number;
  billed: string; atRequestedPrice: string | null; saved: string | null;
};

export type DowngradeReport = {
  rows: DowngradeRowOut[]; calls: number; billed: string; atRequestedPrice: string; saved: string; unpricedCalls: number;
};

export function downgradeReport(groups: readonly DowngradeGroup[], prices: ReadonlyMap<number, PriceRow>): DowngradeReport {
  const merged = new Map<string, DowngradeRowOut>();
  let unpricedCalls = 0;
  for (const g of groups) {
    const key = [g.bu_id, g.use_case_id, g.model_requested, g.model_served].join('\u0000');
    const row = merged.get(key) ?? { bu: g.bu_id, useCase: g.use_case_id, modelRequested: g.model_requested, modelServed: g.model_served, calls: 0, billed: ZERO_MONEY, atRequestedPrice: ZERO_MONEY, saved: null };
    const price = g.requested_price_id === null ? undefined : prices.get(g.requested_price_id);
    row.calls += g.calls;
    row.billed = toMoney(add(row.billed, g.billed));
    if (price && row.atRequestedPrice !== null) row.atRequestedPrice = toMoney(add(row.atRequestedPrice, costOf(g, price)));
    else row.atRequestedPrice = null;
    if (!price) unpricedCalls += g.calls;
    merged.set(key, row);
  }
  const rows = [...merged.values()].map((r) => ({ ...r, saved: r.atRequestedPrice === null ? null : minus(r.atRequestedPrice, r.billed) }));
  rows.sort((a, b) => compare(b.saved ?? ZERO_MONEY, a.saved ?? ZERO_MONEY) || a.bu.localeCompare(b.bu) || a.useCase.localeCompare(b.useCase) || a.modelRequested.localeCompare(b.modelRequested));
  const priced = rows.filter((r) => r.atRequestedPrice !== null);
  const total = (pick: (r: DowngradeRowOut) => string) => priced.reduce((s, r) => toMoney(add(s, pick(r))), ZERO_MONEY);
  return {
    rows,
    calls: rows.reduce((n, r) => n + r.calls, 0),
    billed: total((r) => r.billed),
    atRequestedPrice: total((r) => r.atRequestedPrice!),
    saved: total((r) => r.saved!),
    unpricedCalls,
  };
}

function minus(a: string, b: string): string {
  const d = parseDecimal(b);
  return toMoney(add(a, { units: -d.units, scale: d.scale }));
}
