import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '../db/knex.js';
import { upsertBudget, type BudgetPeriod } from '../db/budgets.js';
import { replaceClassCouplings, upsertAliases, upsertCouncil, type AliasRow } from '../db/catalog.js';
import type { BudgetScope } from '../policy/types.js';

/** seeds/ ships beside src/ and dist/, so resolve it from this file rather than the working directory. */
export const SEEDS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../seeds');

type SeedCatalog = {
  business_units: Record<string, unknown>[];
  use_cases: Record<string, unknown>[];
  providers: Record<string, unknown>[];
  models: Record<string, unknown>[];
  prices: (Record<string, unknown> & { model_id: string; effective_from: string })[];
  downgrade_ladder: { model_id: string; cheaper_model_id: string }[];
  model_aliases?: AliasRow[];
  agents: { id: string; bu_id: string; name: string; use_cases: string[]; models: string[] }[];
  class_couplings?: { from: string; to: string; weight?: number }[];
  council?: { name: string; email: string; webhook_url?: string | null };
};
type SeedBudgets = { budgets: { scope: BudgetScope; scope_id: string; limit: string | null; unit: 'usd' | 'tokens'; period?: BudgetPeriod; max_calls?: number }[] };

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(path.join(SEEDS_DIR, file), 'utf8')) as T;
}

/** Loads the demo catalog, prices and budgets; idempotent (rows are upserted by their keys). */
export async function seedDemo(db: Db, opts: { budgets?: boolean } = {}): Promise<{ agents: number; prices: number }> {
  const c = await readJson<SeedCatalog>('catalog.json');
  await db.transaction(async (trx) => {
    await trx('business_units').insert(c.business_units).onConflict('id').merge();
    await trx('use_cases').insert(c.use_cases).onConflict('id').merge();
    await trx('providers').insert(c.providers).onConflict('id').merge();
    await trx('models').insert(c.models).onConflict('id').merge();
    // A seed never edits a price row already there (history): a changed price is a new row, through `price import`.
    await trx('prices').insert(c.prices).onConflict(['model_id', 'service_tier', 'effective_from']).ignore();
    await trx('downgrade_ladder').insert(c.downgrade_ladder).onConflict('model_id').merge();
    await upsertAliases(trx, c.model_aliases ?? []);
    for (const a of c.agents) {
      await trx('agents').insert({ id: a.id, bu_id: a.bu_id, name: a.name }).onConflict('id').merge();
      await trx('agent_use_cases').where({ agent_id: a.id }).delete();
      await trx('agent_models').where({ agent_id: a.id }).delete();
      await trx('agent_use_cases').insert(a.use_cases.map((u) => ({ agent_id: a.id, use_case_id: u })));
      await trx('agent_models').insert(a.models.map((m) => ({ agent_id: a.id, model_id: m })));
    }
    if (c.class_couplings) await replaceClassCouplings(trx, c.class_couplings);
    if (c.council) await upsertCouncil(trx, c.council);
  });
  if (opts.budgets !== false) {
    const b = await readJson<SeedBudgets>('budgets.json');
    for (const x of b.budgets) {
      await upsertBudget(db, { scope: x.scope, scopeId: x.scope_id, limit: x.limit, unit: x.unit, period: x.period ?? 'month', maxCalls: x.max_calls ?? null });
    }
  }
  return { agents: c.agents.length, prices: c.prices.length };
}
