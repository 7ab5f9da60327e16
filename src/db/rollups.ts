/**
 * Hourly and monthly rollups of the ledger (usage_hourly, usage_monthly) and of the decision log
 * (decisions_hourly), and the daily count of calls per tool (tool_usage_daily), kept by the metering writer
 * in the same transaction as the rows it inserts: only rows that statement actually inserted are added, so
 * a replayed batch adds nothing, and the rollups never drift from the ledger.
 * Every report reads these tables; none scans usage_events.
 */

const HOUR = `date_trunc('hour', ts at time zone 'UTC') at time zone 'UTC'`;

// The usage rollups' measures in column order, and what a group of ledger rows, or of rollup rows, adds to them;
// with sign '-', what it takes away (a dead gateway's fallback row replaced by its call's real usage).
const MEASURES = ['calls', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'cost', 'partial_calls', 'error_calls'];
export type Sign = '' | '-';
const LEDGER_SUMS = ['count(*)', 'sum(input_tokens)', 'sum(cached_input_tokens)', 'sum(cache_write_tokens)', 'sum(output_tokens)', 'sum(cost)',
  'count(*) filter (where partial)', 'count(*) filter (where status >= 400)'];
const fromLedger = (sign: Sign) => LEDGER_SUMS.map((e) => `${sign}${e}`).join(', ');
const FROM_ROLLUP = MEASURES.map((m) => `sum(${m})`).join(', ');

const USAGE_KEYS: [column: string, expr: string][] = [
  ['bu_id', 'bu_id'], ['use_case_id', 'use_case_id'], ['agent_id', 'agent_id'], ['provider', 'provider'],
  ['model_served', 'model_served'], ['accounting_period', 'accounting_period'],
];

// Upserted in key order so that concurrent writers (replicas) lock rollup rows in the same order. `source` is a
// table, a subquery or a CTE (the ledger writer chains these onto its inserts' RETURNING: src/db/ledger.ts).
function usageUpsertSql(table: string, keys: readonly [string, string][], source: string, sums: string): string {
  const positions = keys.map((_, i) => i + 1).join(', ');
  return `
insert into ${table} as r (${keys.map(([c]) => c).join(', ')}, ${MEASURES.join(', ')})
select ${keys.map(([, e]) => e).join(', ')}, ${sums}
from ${source}
group by ${positions}
order by ${positions}
on conflict (${keys.map(([c]) => c).join(', ')}) do update set
  ${MEASURES.map((m) => `${m} = r.${m} + excluded.${m}`).join(',\n  ')}`;
}

// The accounting (billing) period is part of the key: it differs from the hour's month only for events that
// arrived after their month was closed, which the month's chargeback bills where FOCUS does (migration 016).
export function usageRollupSql(source: string, sign: Sign = ''): string {
  return usageUpsertSql('usage_hourly', [['hour', HOUR], ...USAGE_KEYS], source, fromLedger(sign));
}

/**
 * Ledger rows summed per hour and usage_hourly's key, with usage_hourly's columns: the ledger writer sums its
 * rows once into these and adds them to usage_hourly (`hourlyRollupFromSumsSql`), usage_monthly and
 * use_case_spend, each of which then groups a few hundred sums rather than every row again.
 */
export function hourlySumsSql(source: string): string {
  return `select ${HOUR} as hour, ${USAGE_KEYS.map(([c]) => c).join(', ')},
  ${LEDGER_SUMS.map((e, i) => `${e} as ${MEASURES[i]!}`).join(', ')}
from ${source}
group by ${USAGE_KEYS.map((_, i) => i + 1).concat(USAGE_KEYS.length + 1).join(', ')}`;
}

/** usage_hourly from hourlySumsSql's rows. */
export function hourlyRollupFromSumsSql(sums: string): string {
  return usageUpsertSql('usage_hourly', [['hour', 'hour'], ...USAGE_KEYS], sums, FROM_ROLLUP);
}

/**
 * The same usage per billing month (usage_monthly), which a month's chargeback reads when it does not group
 * by day. From the ledger's rows, or from rows in usage_hourly's shape (`fromHourly`: the migration's backfill
 * from usage_hourly, the writer's from hourlySumsSql).
 */
export function monthlyRollupSql(source: string, fromHourly = false, sign: Sign = ''): string {
  return usageUpsertSql('usage_monthly', USAGE_KEYS, source, fromHourly ? FROM_ROLLUP : fromLedger(sign));
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
 * `tools` are distinct); calls without tools add nothing. Calls are counted per tool list before the lists are
 * unnested: an agent sends the same list call after call, so a batch unnests a few lists, not every row's.
 * Upserted in primary-key order, as above.
 */
export function toolRollupSql(source: string, sign: Sign = ''): string {
  return `
insert into tool_usage_daily as d (day, use_case_id, tool, bu_id, calls)
select e.day, e.use_case_id, t.tool, e.bu_id, sum(e.calls)
from (
  select (ts at time zone 'UTC')::date as day, use_case_id, bu_id, tools, ${sign}count(*) as calls
  from ${source} where tools is not null group by 1, 2, 3, 4
) e cross join lateral unnest(e.tools) as t(tool)
group by 1, 2, 3, 4
order by 1, 2, 3, 4
on conflict (day, use_case_id, tool, bu_id) do update set calls = d.calls + excluded.calls`;
}

/** Backfill statements (migration 010): the same aggregation over the whole ledger. */
export const USAGE_ROLLUP_FROM_LEDGER = usageRollupSql('usage_events');
export const USAGE_MONTHLY_FROM_HOURLY = monthlyRollupSql('usage_hourly', true);
export const DECISION_ROLLUP_FROM_LOG = decisionRollupSql('decision_log');

