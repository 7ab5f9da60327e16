import type { Knex } from 'knex';
import type { PriceRow } from '../metering/pricing.js';
import type { PriceInput } from '../catalog/prices/types.js';
import type { Db } from './knex.js';
import { loadAliases } from './catalog.js';

/** The price book as the importer, `price list` and GraphQL read it: every version, with its source. */
export type PriceVersion = PriceRow & { source: string | null; recorded_at: Date };

const COLUMNS = [
  'p.id', 'p.model_id', 'm.provider_id', 'p.service_tier', 'p.effective_from', 'p.input_per_mtok', 'p.cached_input_per_mtok',
  'p.cache_write_per_mtok', 'p.cache_write_1h_per_mtok', 'p.output_per_mtok', 'p.currency', 'p.source', 'p.recorded_at',
];

/** Every version of every model and tier (or of one model), oldest first, prices as exact text. */
export async function loadPriceHistory(db: Db | Knex.Transaction, modelId?: string): Promise<PriceVersion[]> {
  const q = db('prices as p').join('models as m', 'm.id', 'p.model_id').select(COLUMNS)
    .orderBy([{ column: 'p.model_id' }, { column: 'p.service_tier' }, { column: 'p.effective_from' }]);
  if (modelId !== undefined) q.where('p.model_id', modelId);
  const rows = (await q) as PriceVersion[];
  return rows.map((r) => ({ ...r, id: Number(r.id), effective_from: new Date(r.effective_from), recorded_at: new Date(r.recorded_at) }));
}

/** Some versions by id, prices as exact text. */
export async function loadPriceVersions(db: Db | Knex.Transaction, ids: readonly number[]): Promise<PriceVersion[]> {
  if (ids.length === 0) return [];
  const rows = (await db('prices as p').join('models as m', 'm.id', 'p.model_id').select(COLUMNS).whereIn('p.id', ids)) as PriceVersion[];
  return rows.map((r) => ({ ...r, id: Number(r.id), effective_from: new Date(r.effective_from), recorded_at: new Date(r.recorded_at) }));
}

/** The catalog models and their aliases, which an import prices. */
export async function loadCatalogModels(db: Db | Knex.Transaction) {
  const [models, aliases] = await Promise.all([
    db('models').select('id', 'provider_id', 'vendor_model_id').orderBy('id') as Promise<{ id: string; provider_id: string; vendor_model_id: string | null }[]>,
    loadAliases(db),
  ]);
  return { models, aliases };
}

/** Appends price versions (never updates one: prices_model_tier_from_unique refuses a second at the same time). */
export async function insertPrices(trx: Knex.Transaction, rows: readonly (PriceInput & { effective_from: string })[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const inserted = (await trx('prices').insert(rows.map((r) => ({
    model_id: r.model_id, service_tier: r.service_tier, effective_from: r.effective_from,
    input_per_mtok: r.input_per_mtok, cached_input_per_mtok: r.cached_input_per_mtok, cache_write_per_mtok: r.cache_write_per_mtok,
    cache_write_1h_per_mtok: r.cache_write_1h_per_mtok, output_per_mtok: r.output_per_mtok, currency: r.currency, source: r.source,
  }))).returning('id')) as { id: number }[];
  return inserted.map((r) => Number(r.id));
}

// One import at a time across processes: two imports of overlapping files must not both decide a row is new.
const IMPORT_LOCK = 7_015_022;

export async function lockPriceImports(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(?)', [IMPORT_LOCK]);
}
