import { upsertAliases, type AliasRow, type BusinessUnitRow, type LadderRow, type ModelRow, type UseCaseRow } from './catalog.js';
import type { Db } from './knex.js';

export type ProviderEntry = { id: string; name: string; api_style: string };
/** Per million tokens, as exact decimal strings. */
export type PriceEntry = {
  model_id: string; effective_from: string | Date; input_per_mtok: string; cached_input_per_mtok: string;
  cache_write_per_mtok: string; output_per_mtok: string; currency?: string; source?: string | null;
  /** The service tier the row prices (standard when absent); 1-hour cache writes, when they have a price of their own. */
  service_tier?: 'standard' | 'flex' | 'priority' | 'batch'; cache_write_1h_per_mtok?: string | null;
};
export type AgentEntry = { id: string; bu_id: string; name: string; use_cases: readonly string[]; models: readonly string[] };

/** Catalog rows to add, or replace by their keys. */
export type CatalogEntries = {
  businessUnits?: readonly BusinessUnitRow[];
  useCases?: readonly UseCaseRow[];
  providers?: readonly ProviderEntry[];
  /** A vendor's model names its canonical model and the id the vendor takes (migration 040): see README, Cloud vendors. */
  models?: readonly ModelRow[];
  /** Ids agents send for a model on one vendor: an Azure deployment name, a dated snapshot. */
  aliases?: readonly AliasRow[];
  /** A model's next cheaper one (on the same vendor, for the soft cap to serve it). */
  ladder?: readonly LadderRow[];
  prices?: readonly PriceEntry[];
  agents?: readonly AgentEntry[];
};

/**
 * Writes catalog entries in one transaction, parents first; an agent's use cases and models become exactly the
 * ones given. Running it again with the same entries changes nothing.
 */
export async function upsertCatalogEntries(db: Db, e: CatalogEntries): Promise<void> {
  await db.transaction(async (trx) => {
    if (e.businessUnits?.length) await trx('business_units').insert(e.businessUnits).onConflict('id').merge();
    if (e.useCases?.length) await trx('use_cases').insert(e.useCases).onConflict('id').merge();
    if (e.providers?.length) await trx('providers').insert(e.providers).onConflict('id').merge();
    if (e.models?.length) await trx('models').insert(e.models).onConflict('id').merge();
    if (e.aliases?.length) await upsertAliases(trx, e.aliases);
    if (e.ladder?.length) await trx('downgrade_ladder').insert(e.ladder).onConflict('model_id').merge();
    if (e.prices?.length) {
      const rows = e.prices.map((p) => ({ ...p, service_tier: p.service_tier ?? 'standard' }));
      await trx('prices').insert(rows).onConflict(['model_id', 'service_tier', 'effective_from']).merge();
    }
    for (const a of e.agents ?? []) {
      await trx('agents').insert({ id: a.id, bu_id: a.bu_id, name: a.name }).onConflict('id').merge();
      await trx('agent_use_cases').where({ agent_id: a.id }).delete();
      await trx('agent_models').where({ agent_id: a.id }).delete();
      if (a.use_cases.length) await trx('agent_use_cases').insert(a.use_cases.map((u) => ({ agent_id: a.id, use_case_id: u })));
      if (a.models.length) await trx('agent_models').insert(a.models.map((m) => ({ agent_id: a.id, model_id: m })));
    }
  });
}
