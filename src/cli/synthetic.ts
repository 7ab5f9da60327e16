import { syntheticBatches, type SyntheticCatalog, type SyntheticOptions } from '../analytics/synthetic.js';
import { loadCatalog, isCatalogEmpty } from '../db/catalog.js';
import { writeBatch } from '../db/ledger.js';
import type { Db } from '../db/knex.js';
import { loadPrices } from '../db/prices.js';
import { seedDemo } from '../catalog/seed.js';
import { createPriceBook, type PriceRow } from '../metering/pricing.js';
import { monthRange } from '../budgets/period.js';
import { withDb } from './db.js';
import { createProgress } from './progress.js';

export type SyntheticRun = { records: number; usage: number; decisions: number; seconds: number; perSecond: number };

// One writeBatch per batch: transactions of 5,000 records, each keeping the rollups and budget counters of
// the rows it inserts (COPY would skip them).
export const SYNTHETIC_BATCH = 20_000;

/** Generates and writes synthetic traffic; seeds the demo catalog first if the database has none. */
export async function runSynthetic(db: Db, opts: SyntheticOptions, onProgress?: (written: number) => void): Promise<SyntheticRun> {
  if (await isCatalogEmpty(db)) await seedDemo(db);
  const rows = await loadPrices(db);
  const catalog = await syntheticCatalog(db, rows);
  const prices = createPriceBook(rows);
  const started = performance.now();
  const run = { records: 0, usage: 0, decisions: 0 };
  for (const batch of syntheticBatches(catalog, prices, opts, SYNTHETIC_BATCH)) {
    const r = await writeBatch(db, batch);
    run.records += batch.length;
    run.usage += r.usageInserted;
    run.decisions += r.decisionsInserted;
    onProgress?.(run.records);
  }
  const seconds = (performance.now() - started) / 1000;
  return { ...run, seconds, perSecond: Math.round(run.records / seconds) };
}

/** Active agents, their use cases sorted and their models dearest first (the generator calls cheaper ones more). */
export async function syntheticCatalog(db: Db, prices: readonly PriceRow[]): Promise<SyntheticCatalog> {
  const c = await loadCatalog(db);
  const outputPrice = new Map(prices.map((p) => [p.model_id, Number(p.output_per_mtok)])); // ordering only
  const dearestFirst = (a: string, b: string) => (outputPrice.get(b) ?? 0) - (outputPrice.get(a) ?? 0) || a.localeCompare(b);
  return {
    agents: c.agents
      .filter((a) => a.status === 'active' && a.use_cases.length > 0 && a.models.length > 0)
      .map((a) => ({ id: a.id, bu_id: a.bu_id, use_cases: [...a.use_cases].sort(), models: [...a.models].sort(dearestFirst) })),
    providerOf: new Map(c.models.map((m) => [m.id, m.provider_id])),
  };
}

export type SyntheticCliOptions = { events: string; months: string; seed: string; until?: string };

/** `tollgate seed --synthetic --events N [--months M] [--seed S] [--until YYYY-MM]`. */
export async function syntheticCommand(opts: SyntheticCliOptions): Promise<void> {
  const events = wholeNumber(opts.events, '--events');
  const until = opts.until ? monthRange(opts.until).from : nextMonthStart(new Date());
  const progress = createProgress('synthetic events', events);
  const run = await withDb((db) => runSynthetic(db, { events, months: wholeNumber(opts.months, '--months'), seed: wholeNumber(opts.seed, '--seed'), until }, (n) => progress.update(n)));
  progress.done(`wrote ${run.usage.toLocaleString('en-US')} usage events and ${run.decisions.toLocaleString('en-US')} denials in ${run.seconds.toFixed(1)} s (${run.perSecond.toLocaleString('en-US')} records/s)`);
}

function wholeNumber(v: string, name: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${v}"`);
  return Number(v);
}

function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}
