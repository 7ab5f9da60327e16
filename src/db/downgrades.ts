import type { Db } from './knex.js';

/**
 * Downgraded calls (model served ≠ model requested) of [from, to), grouped by BU, use case, the two models and
 * the requested model's price row in force at each call's time (null: none yet), with their token sums and
 * billed cost. Read through the ledger's ts index; downgrades are the soft cap's few calls of a period.
 */

export type DowngradeGroup = {
  bu_id: string;
  use_case_id: string;
  model_requested: string;
  model_served: string;
  requested_price_id: number | null;
  calls: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  billed: string;
};

export async function downgradeGroups(db: Db, period: { from: Date; to: Date }, scope: { buId?: string } = {}): Promise<DowngradeGroup[]> {
  const result = await db.raw(`
    select e.bu_id, e.use_case_id, e.model_requested, e.model_served, p.id as requested_price_id,
      count(*)::int8 as calls,
      sum(e.input_tokens)::int8 as input_tokens, sum(e.cached_input_tokens)::int8 as cached_input_tokens,
      sum(e.cache_write_tokens)::int8 as cache_write_tokens, sum(e.output_tokens)::int8 as output_tokens,
      sum(e.cost)::numeric(38, 12)::text as billed
    from usage_events e
    left join lateral (
      select id from prices where model_id = e.model_requested and effective_from <= e.ts order by effective_from desc limit 1
    ) p on true
    where e.ts >= :from and e.ts < :to and e.model_served <> e.model_requested
      ${scope.buId !== undefined ? 'and e.bu_id = :bu' : ''}
    group by e.bu_id, e.use_case_id, e.model_requested, e.model_served, p.id`,
  { from: period.from.toISOString(), to: period.to.toISOString(), ...(scope.buId !== undefined ? { bu: scope.buId } : {}) });
  return (result.rows as DowngradeGroup[]).map((r) => ({
    ...r,
    requested_price_id: r.requested_price_id === null ? null : Number(r.requested_price_id),
    calls: Number(r.calls), input_tokens: Number(r.input_tokens), cached_input_tokens: Number(r.cached_input_tokens),
    cache_write_tokens: Number(r.cache_write_tokens), output_tokens: Number(r.output_tokens),
  }));
}
