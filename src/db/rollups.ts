/**
 * Hourly and monthly rollups of the ledger (usage_hourly, usage_monthly) and of the decision log (decisions_hourly), and the daily count
 * of calls per tool (tool_usage_daily), kept by the
 * metering writer in the same transaction as the rows it inserts: only rows that statement actually
 * inserted are added, so a replayed batch adds nothing, and the rollups never drift from the ledger.
 * Every report reads these tables; none scans usage_events.
 */

const HOUR = `date_trunc('hour', ts at time zone 'UTC') at time zone 'UTC'`;

// Upserted in key order so that concurrent writers (replicas) lock rollup rows in the same order. `source` is a
// table, a subquery or a CTE (the ledger writer chains these onto its inserts' RETURNING: src/db/ledger.ts).
// The accounting (billing) period is part of the key: it differs from the hour's month only for events that
// arrived after their month was closed, which the month's chargeback bills where FOCUS does (migration 016).
export function usageRollupSql(source: string): string {
  return `
insert into usage_hourly as h (hour, bu_id, use_case_id, agent_id, provider, model_served, accounting_period, calls,
  input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost, partial_calls, error_calls)
select ${HOUR}, bu_id, use_case_id, agent_id, provider, model_served, accounting_period, count(*), sum(input_tokens),
  sum(cached_input_tokens), sum(cache_write_tokens), sum(output_tokens), sum(cost),
  count(*) filter (where partial), count(*) filter (where status >= 400)
from ${source}
group by 1, 2, 3, 4, 5, 6, 7
order by 1, 2, 3, 4, 5, 6, 7
on conflict (hour, bu_id, use_case_id, agent_id, provider, model_served, accounting_period) do update set
  calls = h.calls + excluded.calls,
  input_tokens = h.input_tokens + excluded.input_tokens,
  cached_input_tokens = h.cached_input_tokens + excluded.cached_input_tokens,
  cache_write_tokens = h.cache_write_tokens + excluded.cache_write_tokens,
  output_tokens = h.output_tokens + excluded.output_tokens,
  cost = h.cost + excluded.cost,
  partial_calls = h.partial_calls + excluded.partial_calls,
  error_calls = h.error_calls + excluded.error_calls`;
}

const SUMMED = ['calls', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'cost', 'partial_calls', 'error_calls'];

/**
 * The same usage per billing month (usage_monthly), which a month's chargeback reads when it does not group
 * by day. From the ledger's rows (`fromLedger`) or from usage_hourly rows (the migration's backfill).
 */
export function monthlyRollupSql(source: string, fromLedger = true): string {
  const sums = fromLedger
    ? `count(*), sum(input_tokens), sum(cached_input_tokens), sum(cache_write_tokens), sum(output_tokens), sum(cost),
  count(*) filter (where partial), count(*) filter (where status >= 400)`
    : SUMMED.map((c) => `sum(${c})`).join(', ');
  return `
insert into usage_monthly as m (accounting_period, bu_id, use_case_id, agent_id, provider, model_served, ${SUMMED.join(', ')})
select accounting_period, bu_id, use_case_id, agent_id, provider, model_served, ${sums}
from ${source}
group by 1, 2, 3, 4, 5, 6
order by 1, 2, 3, 4, 5, 6
on conflict (accounting_period, bu_id, use_case_id, agent_id, provider, model_served) do update set
  ${SUMMED.map((c) => `${c} = m.${c} + excluded.${c}`).join(',\n  ')}`;
}

export function decisionRollupSql(source: string): string {
  return `
insert into decisions_hourly as h (hour, bu_id, use_case_id, agent_id, code, calls)
select ${HOUR}, coalesce(bu_id, ''), coalesce(use_case_id, ''), coalesce(agent_id, ''), code, count(*)
from ${source}
group by 1, 2, 3, 4, 5
order by 1, 2, 3, 4, 5
on conflict (hour, bu_id, use_case_id, agent_id, code) do update set calls = h.calls + excluded.calls`;
}

/**
 * Calls per UTC day, BU, use case and tool: a call counts once for each tool it declared or called (its
 * `tools` are distinct); calls without tools add nothing. Upserted in primary-key order, as above.
 */
export function toolRollupSql(source: string): string {
  return `
insert into tool_usage_daily as d (day, use_case_id, tool, bu_id, calls)
select (e.ts at time zone 'UTC')::date, e.use_case_id, t.tool, e.bu_id, count(*)
from ${source} e cross join lateral unnest(e.tools) as t(tool)
group by 1, 2, 3, 4
order by 1, 2, 3, 4
on conflict (day, use_case_id, tool, bu_id) do update set calls = d.calls + excluded.calls`;
}

/** Backfill statements (migration 010): the same aggregation over the whole ledger. */
export const USAGE_ROLLUP_FROM_LEDGER = usageRollupSql('usage_events');
export const USAGE_MONTHLY_FROM_LEDGER = monthlyRollupSql('usage_events');
export const USAGE_MONTHLY_FROM_HOURLY = monthlyRollupSql('usage_hourly', false);
export const DECISION_ROLLUP_FROM_LOG = decisionRollupSql('decision_log');

