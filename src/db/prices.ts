import type { PriceRow } from '../metering/pricing.js';
import type { Db } from './knex.js';

const PRICE_COLUMNS = [
  'p.id',
  'p.model_id',
  'p.service_tier',
  'p.effective_from',
  'p.input_per_mtok',
  'p.cached_input_per_mtok',
  'p.cache_write_per_mtok',
  'p.cache_write_1h_per_mtok',
  'p.output_per_mtok',
  'p.currency',
  'm.provider_id',
] as const;

/** Every price version of every model and tier, oldest first (the PriceBook indexes them). */
export async function loadPrices(db: Db): Promise<PriceRow[]> {
  return db('prices as p').join('models as m', 'm.id', 'p.model_id').select(PRICE_COLUMNS)
    .orderBy([{ column: 'p.model_id' }, { column: 'p.effective_from' }]);
}
