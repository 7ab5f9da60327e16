import type { PriceRow } from '../metering/pricing.js';
import type { Db } from './knex.js';

const PRICE_COLUMNS = [
  'id',
  'model_id',
  'effective_from',
  'input_per_mtok',
  'cached_input_per_mtok',
  'cache_write_per_mtok',
  'output_per_mtok',
  'currency',
] as const;

/** Every price version of every model, oldest first (the PriceBook indexes them). */
export async function loadPrices(db: Db): Promise<PriceRow[]> {
  return db('prices').select(PRICE_COLUMNS).orderBy([{ column: 'model_id' }, { column: 'effective_from' }]);
}
