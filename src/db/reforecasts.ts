import type { Knex } from 'knex';
import type { Db } from './knex.js';
import { loadPriceVersions, type PriceVersion } from './price-book.js';
import type { Tokens } from '../budgets/reforecast.js';

/** Price changes whose time has come, their claims, the usage they re-price, and the notices they raise. */

export type DueChange = { price: PriceVersion; previous: PriceVersion | null };

// Each due row with the version it replaced (same model and tier, the latest before it).
const DUE_SQL = `
select d.id,
  (select p.id from prices p where p.model_id = d.model_id and p.service_tier = d.service_tier and p.effective_from < d.effective_from
   order by p.effective_from desc limit 1) as previous_id
from prices d
where d.effective_from <= ? and not exists (select 1 from price_changes_applied a where a.price_id = d.id)
order by d.effective_from, d.id
limit ?`;

export async function dueChanges(db: Db | Knex.Transaction, now: Date, limit: number): Promise<DueChange[]> {
  const result = (await db.raw(DUE_SQL, [now.toISOString(), limit])) as { rows: { id: number; previous_id: number | null }[] };
  const ids = result.rows.flatMap((r) => (r.previous_id === null ? [r.id] : [r.id, r.previous_id])).map(Number);
  const versions = new Map((await loadPriceVersions(db, ids)).map((v) => [v.id, v]));
  return result.rows.map((r) => ({ price: versions.get(Number(r.id))!, previous: r.previous_id === null ? null : versions.get(Number(r.previous_id))! }));
}

/** Claims a due change for this transaction; false when another replica (or an import) already applied it. */
export async function claimChange(trx: Knex.Transaction, priceId: number): Promise<boolean> {
  const rows = (await trx('price_changes_applied').insert({ price_id: priceId }).onConflict('price_id').ignore().returning('price_id')) as unknown[];
  return rows.length > 0;
}

export async function countReforecast(trx: Knex.Transaction, priceId: number, budgets: number): Promise<void> {
  await trx('price_changes_applied').where('price_id', priceId).update({ budgets_reforecast: budgets });
}

export type ScopeFilter = { scope: 'use_case' | 'bu' | 'agent'; scopeId: string };
const SCOPE_COLUMN = { use_case: 'use_case_id', bu: 'bu_id', agent: 'agent_id' } as const;

/** The model's tokens in one budget's scope from `from` to `to` (hourly rollups; the period starts on an hour). */
export async function scopeTokens(db: Db | Knex.Transaction, modelId: string, scope: ScopeFilter, from: Date, to: Date): Promise<Tokens> {
  const row = (await db('usage_hourly')
    .where('model_served', modelId).andWhere(SCOPE_COLUMN[scope.scope], scope.scopeId)
    .andWhere('hour', '>=', from).andWhere('hour', '<', to)
    .first(db.raw(`coalesce(sum(input_tokens), 0)::int8 as input_tokens, coalesce(sum(cached_input_tokens), 0)::int8 as cached_input_tokens,
      coalesce(sum(cache_write_tokens), 0)::int8 as cache_write_tokens, coalesce(sum(output_tokens), 0)::int8 as output_tokens`))) as Record<keyof Tokens, string>;
  return {
    input_tokens: Number(row.input_tokens), cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens), output_tokens: Number(row.output_tokens),
  };
}

export type ReforecastInsert = {
  budget_id: number; period_start: Date; price_id: number; previous_price_id: number | null;
  old_forecast: string; new_forecast: string; old_tier: string; new_tier: string; as_of: Date;
};

/** Records a re-forecast that crossed a tier; null when this budget, period and price change already has one. */
export async function insertReforecast(trx: Knex.Transaction, r: ReforecastInsert): Promise<number | null> {
  const rows = (await trx('budget_reforecasts').insert(r).onConflict(['budget_id', 'period_start', 'price_id']).ignore().returning('id')) as { id: number }[];
  return rows[0] ? Number(rows[0].id) : null;
}

export async function insertReforecastOutbox(
  trx: Knex.Transaction,
  row: { reforecast_id: number; target_url: string | null; email: string | null; payload: object },
): Promise<void> {
  await trx('notification_outbox')
    .insert({ ...row, recipient: 'owner', status: row.target_url ? 'pending' : 'no_target', payload: JSON.stringify(row.payload) })
    .onConflict(['reforecast_id', 'recipient']).ignore();
}

export type ReforecastRow = ReforecastInsert & { id: number; created_at: Date };

export async function listReforecasts(db: Db, filter: { budgetId?: number } = {}): Promise<ReforecastRow[]> {
  const q = db('budget_reforecasts').select('*').orderBy('id');
  if (filter.budgetId !== undefined) q.where('budget_id', filter.budgetId);
  const rows = (await q) as ReforecastRow[];
  return rows.map((r) => ({ ...r, id: Number(r.id), budget_id: Number(r.budget_id), old_forecast: String(r.old_forecast), new_forecast: String(r.new_forecast) }));
}

