import { syntheticBatches } from '../../src/analytics/synthetic.js';
import { syntheticCatalog } from '../../src/cli/synthetic.js';
import { upsertBudget } from '../../src/db/budgets.js';
import { loadCatalog } from '../../src/db/catalog.js';
import type { Db } from '../../src/db/knex.js';
import { writeBatch } from '../../src/db/ledger.js';
import { upsertOutcomePoints, type OutcomePointInput } from '../../src/db/outcomes.js';
import { loadPrices } from '../../src/db/prices.js';
import { costOf, createPriceBook } from '../../src/metering/pricing.js';
import type { JournalRecord, UsageEvent } from '../../src/metering/types.js';

/**
 * Months of traffic for the finance page, up to `now`: the synthetic generator's calls over the demo catalog
 * (seeds/), with this month's budgets set so that the use cases sit at different tiers, the soft cap's
 * downgrades applied as the gateway applies them (once a use case's month spend passes its limit, a call to a
 * model with a cheaper sibling on the ladder is served and priced as the sibling), and each use case's outcome
 * metric recorded on the first of every month.
 */

/**
 * This month's limit as a multiple of the use case's spend so far or of its pace projected to the month's end:
 * past its soft cap now, bound for its hard cap, at warning, comfortable, at notice.
 */
const LIMITS: Record<string, { of: 'spent' | 'projected'; factor: number }> = {
  'trade-promo-automation': { of: 'spent', factor: 0.93 },
  'digital-marketing': { of: 'projected', factor: 0.88 },
  'experience-management': { of: 'spent', factor: 1 / 0.85 },
  'demand-forecasting': { of: 'projected', factor: 1.6 },
  'underwriting-assist': { of: 'spent', factor: 1 / 0.6 },
};

export type FinanceMonths = { period: string; events: number; downgraded: number };

export async function writeFinanceMonths(db: Db, opts: { now: Date; months?: number; events?: number; seed?: number }): Promise<FinanceMonths> {
  const { now } = opts;
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const until = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const rows = await loadPrices(db);
  const prices = createPriceBook(rows);
  const catalog = await loadCatalog(db);
  const records: JournalRecord[] = [];
  for (const batch of syntheticBatches(await syntheticCatalog(db, rows), prices, { events: opts.events ?? 12_000, months: opts.months ?? 6, seed: opts.seed ?? 11, until })) {
    records.push(...batch.filter((r) => Date.parse(r.ts) <= now.getTime()));
  }
  records.sort((a, b) => a.ts.localeCompare(b.ts));

  // Limits from the month's pace so far, projected to its end.
  const elapsed = (now.getTime() - monthStart) / (until.getTime() - monthStart);
  const spent = new Map<string, number>();
  for (const r of records) if (r.kind === 'usage' && Date.parse(r.ts) >= monthStart) spent.set(r.use_case_id, (spent.get(r.use_case_id) ?? 0) + Number(r.cost));
  const limitOf = (useCase: string, s: number) => {
    const rule = LIMITS[useCase]!;
    return Math.max(0.01, (rule.of === 'spent' ? s : s / Math.max(elapsed, 0.05)) * rule.factor);
  };
  const limits = new Map([...spent].filter(([u]) => LIMITS[u]).map(([u, s]) => [u, limitOf(u, s)]));
  for (const [useCase, limit] of limits) await upsertBudget(db, { scope: 'use_case', scopeId: useCase, limit: limit.toFixed(2), unit: 'usd', period: 'month' });
  const marketing = [...limits].filter(([u]) => ['trade-promo-automation', 'digital-marketing', 'experience-management'].includes(u)).reduce((s, [, l]) => s + l, 0);
  await upsertBudget(db, { scope: 'bu', scopeId: 'marketing', limit: (marketing * 0.95).toFixed(2), unit: 'usd', period: 'month' });

  // The soft cap: past 100% of the limit, a call to a laddered model is served by its cheaper sibling.
  const cheaper = new Map(catalog.ladder.map((l) => [l.model_id, l.cheaper_model_id]));
  const running = new Map<string, number>();
  let downgraded = 0;
  const written = records.map((r): JournalRecord => {
    if (r.kind !== 'usage' || Date.parse(r.ts) < monthStart) return r;
    const so = running.get(r.use_case_id) ?? 0;
    const sibling = cheaper.get(r.model_requested);
    const price = sibling ? prices.priceAt(sibling, new Date(r.ts)) : null;
    let event: UsageEvent = r;
    if (sibling && price && so >= (limits.get(r.use_case_id) ?? Infinity)) {
      event = { ...r, model_served: sibling, cost: costOf(r, price), price_id: price.id, budget_tier: 'soft_cap', decision_code: 'ok' };
      downgraded++;
    }
    running.set(r.use_case_id, so + Number(event.cost));
    return event;
  });
  await writeBatch(db, written);

  const points: OutcomePointInput[] = [];
  const months = opts.months ?? 6;
  for (const u of catalog.useCases.filter((x) => x.outcome_metric)) {
    let value = 1000;
    for (let m = -months; m <= 0; m++) {
      points.push({ useCaseId: u.id, metric: u.outcome_metric!, ts: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + m, 1)), value: value.toFixed(2), source: 'test' });
      value += 40 + ((u.id.length * 7 + m * 13) % 30);
    }
    points.push({ useCaseId: u.id, metric: u.outcome_metric!, ts: now, value: (value + 10).toFixed(2), source: 'test' });
  }
  await upsertOutcomePoints(db, points);
  return { period: new Date(monthStart).toISOString().slice(0, 7), events: written.length, downgraded };
}
