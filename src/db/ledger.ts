import type { DecisionRecord, JournalRecord, InflightRecord, TierRecord, UsageEvent, UsageReview } from '../metering/types.js';
import { budgetCounterCtes, runPrepared } from './budgets.js';
import { recordTierEvents } from '../budgets/events.js';
import { toMoney } from '../metering/money.js';
import { undoFallbacks } from './fallbacks.js';
import { clearInflight, insertInflight } from './inflight.js';
import { insertReviews } from './usage-review.js';
import type { Db } from './knex.js';
import { decisionRollupSql, hourlyRollupFromSumsSql, hourlySumsSql, monthlyRollupSql, toolRollupSql } from './rollups.js';

/**
 * The usage ledger and the decision log. Batches are inserted with UNNEST over one array per column: the
 * statement has a fixed number of bind parameters whatever the batch size (no 65535-parameter limit, one
 * plan), and it runs the same on Postgres and PGlite. On Postgres each is prepared by name once per connection
 * (src/db/budgets.ts runPrepared): parsing and planning the usage statement's CTEs took about 1.7 ms of every
 * batch, whatever its size (an empty batch: 2.4 ms unprepared, 0.75 ms prepared), a few µs of Postgres CPU per
 * call at a busy gateway's 250 ms flushes of a few hundred records. Its generic plan runs a batch no slower than
 * a plan made for the batch (EXPLAIN ANALYZE of the same rows, rolled back: 13.8 against 15.2 ms for 300 rows,
 * 168 against 181 ms for 5,000).
 */

/** A column: its name, its Postgres type and, when the record's field is not sent as it is, what is sent. */
export type Column<T> = readonly [name: keyof T & string, pgType: string, value?: (record: T) => unknown];

// tools and flags travel as one space-joined text per row and become text[] in SQL: UNNEST of a 2-D array yields
// its scalars, not one array per row, and neither a sanitized tool name (src/providers/tools.ts) nor a flag
// holds a space.
const TOOL_SEPARATOR = ' ';
const ARRAY_COLUMNS = new Set(['tools', 'flags']);
const joined = (list: readonly string[] | undefined) => (list !== undefined && list.length > 0 ? list.join(TOOL_SEPARATOR) : null);

export const USAGE_COLUMNS: readonly Column<UsageEvent>[] = [
  ['request_id', 'text'], ['ts', 'timestamptz'], ['bu_id', 'text'], ['use_case_id', 'text'],
  ['agent_id', 'text'], ['session_id', 'text'], ['parent_request_id', 'text'], ['provider', 'text'], ['endpoint', 'text'],
  ['model_requested', 'text'], ['model_served', 'text'], ['input_tokens', 'int8'],
  ['cached_input_tokens', 'int8'], ['cache_write_tokens', 'int8'], ['output_tokens', 'int8'],
  ['cost', 'numeric', (e) => toMoney(e.cost)], ['currency', 'text'], ['price_id', 'int4'], ['status', 'int4'], ['partial', 'bool'],
  ['latency_ms', 'int4'], ['decision_code', 'text'], ['policy_revision', 'text'], ['budget_tier', 'text'],
  ['tools', 'text', (e) => joined(e.tools)], ['flags', 'text', (e) => joined(e.flags)],
  // Price detail within the four kinds (issue 15); absent in records journaled before it was metered.
  ['cache_write_1h_tokens', 'int8', (e) => e.cache_write_1h_tokens ?? 0], ['service_tier', 'text', (e) => e.service_tier ?? 'standard'],
  ['cost_estimated', 'bool', (e) => e.cost_estimated === true],
];
const USAGE_SELECT = USAGE_COLUMNS
  .map(([name]) => (ARRAY_COLUMNS.has(name) ? `string_to_array(u.${name}, '${TOOL_SEPARATOR}')` : `u.${name}`))
  .join(', ');

const DECISION_COLUMNS: readonly Column<DecisionRecord>[] = [
  ['request_id', 'text'], ['ts', 'timestamptz'], ['provider', 'text'], ['endpoint', 'text'], ['bu_id', 'text'],
  ['use_case_id', 'text'], ['agent_id', 'text'], ['session_id', 'text'], ['model', 'text'],
  ['allowed', 'bool'], ['http_status', 'int4'], ['code', 'text'], ['message', 'text'], ['reasons', 'jsonb', (d) => JSON.stringify(d.reasons)],
  ['policy_revision', 'text'], ['budget_tier', 'text'], ['claimed', 'jsonb', (d) => (d.claimed ? JSON.stringify(d.claimed) : null)],
];

// Records per transaction, and so per statement: each transaction has one usage statement (and at most one of
// decisions), see writeBatch.
const RECORDS_PER_TRANSACTION = 5000;

// Only rows this statement actually inserted reach use_case_spend, the budget counters, the hourly and monthly rollups and
// tool_usage_daily, so a replayed batch adds nothing: they all read the insert's RETURNING, in the same
// statement (one round trip, and no second lookup of the rows by request_id). Spend rows are upserted in key order so that
// concurrent writers (replicas) lock them in the same order (the counters and rollups do the same).
// The rows are summed once per hour and rollup key (`hours`), which usage_hourly, usage_monthly and use_case_spend then
// take rather than each summing every row again (with the budgets' per-session sums, src/db/budgets.ts: the statement
// ×1.1–1.25 as fast on 50,000 live events in batches of 5,000, same run).
const INSERT_USAGE_SQL = `
with ins as (
  insert into usage_events (${names(USAGE_COLUMNS)}, accounting_period)
  select ${USAGE_SELECT}, coalesce(c.carry_to, to_char(u.ts at time zone 'UTC', 'YYYY-MM'))
  from unnest(${arrayParams(USAGE_COLUMNS)}) as u(${names(USAGE_COLUMNS)})
  left join period_closes c on c.period = to_char(u.ts at time zone 'UTC', 'YYYY-MM')
  on conflict (request_id) do nothing
  returning request_id, ts, bu_id, use_case_id, agent_id, session_id, provider, model_served, accounting_period, input_tokens,
    cached_input_tokens, cache_write_tokens, output_tokens, cost, partial, status, tools,
    input_tokens + cached_input_tokens + cache_write_tokens + output_tokens as tokens
), hours as (${hourlySumsSql('ins')}
), spend as (
  insert into use_case_spend as s (use_case_id, period, period_start, cost, tokens, calls)
  select use_case_id, 'month', date_trunc('month', hour at time zone 'UTC') at time zone 'UTC',
    sum(cost), sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens), sum(calls)
  from hours
  group by 1, 3
  order by 1, 3
  on conflict (use_case_id, period, period_start) do update
    set cost = s.cost + excluded.cost, tokens = s.tokens + excluded.tokens, calls = s.calls + excluded.calls
), ${budgetCounterCtes('ins as ev')}, rollup as (${hourlyRollupFromSumsSql('hours')}
), monthly as (${monthlyRollupSql('hours', true)}
), tool_days as (${toolRollupSql('ins')}
)
select count(*)::int as inserted from ins`;

/** A statement prepared by its name (runPrepared): one name, one text, so the two can never disagree. */
type Prepared = { name: string; text: string };
const INSERT_USAGE: Prepared = { name: 'tollgate_insert_usage', text: INSERT_USAGE_SQL };

const INSERT_DECISIONS_SQL = `
with ins as (
  insert into decision_log (${names(DECISION_COLUMNS)})
  select * from unnest(${arrayParams(DECISION_COLUMNS)})
  on conflict (request_id) do nothing
  returning ts, bu_id, use_case_id, agent_id, code
), rollup as (${decisionRollupSql('ins')}
)
select count(*)::int as inserted from ins`;
const INSERT_DECISIONS: Prepared = { name: 'tollgate_insert_decisions', text: INSERT_DECISIONS_SQL };

export type WriteResult = { usageInserted: number; decisionsInserted: number };

/**
 * Writes a batch, in transactions of up to RECORDS_PER_TRANSACTION records; idempotent on request_id (replays
 * insert and count nothing twice), so a batch that failed part way is written whole by its retry.
 * `onCommitted` hears what each transaction inserted, and how many of the batch's records it wrote (the first
 * ones, in order), once it committed: also when a later one then fails (a retry finds those rows written and
 * counts them as nothing).
 *
 * One transaction, one usage statement: that statement takes every lock on rows all writers share (budget
 * counters, which the gateways' reservations also take, rollups of the current hour) in key order. A second
 * usage statement in the same transaction would take another set after it, out of that order, and two writers,
 * or a writer and a reservation, could each hold a row the other waits for (two writers with batches of 20,000
 * in four statements deadlocked in the ingest bench).
 */
export async function writeBatch(
  db: Db,
  records: readonly JournalRecord[],
  onCommitted?: (r: WriteResult, records: number) => void,
): Promise<WriteResult> {
  const total: WriteResult = { usageInserted: 0, decisionsInserted: 0 };
  // A call that started and ended within the batch is not in flight once the batch is written: its in-flight row
  // would be inserted by one transaction and deleted by the same or a later one, for nothing. Should the batch
  // fail after the transaction that skipped it, the batch is still in the journal, which writes it again.
  const ended = endedCalls(records);
  for (const slice of chunks(records, RECORDS_PER_TRANSACTION)) {
    const r = await writeTransaction(db, slice, ended);
    onCommitted?.(r, slice.length);
    total.usageInserted += r.usageInserted;
    total.decisionsInserted += r.decisionsInserted;
  }
  return total;
}

/** The calls whose usage event is among `records`: they are not in flight once the records are written. */
export function endedCalls(records: readonly JournalRecord[]): Set<string> {
  const ended = new Set<string>();
  for (const r of records) if (r.kind === 'usage') ended.add(r.request_id);
  return ended;
}

async function writeTransaction(db: Db, records: readonly JournalRecord[], ended: ReadonlySet<string>): Promise<WriteResult> {
  const usage = records.filter((r): r is UsageEvent => r.kind === 'usage');
  const decisions = records.filter((r): r is DecisionRecord => r.kind === 'decision');
  const started = records.filter((r): r is InflightRecord => r.kind === 'inflight' && !ended.has(r.request_id));
  return db.transaction(async (trx) => {
    await insertInflight(trx, started);
    // Every call reported here is no longer in flight, whether its row is new or was already written (by an
    // earlier batch, or by an earlier try of this one).
    await clearInflight(trx, usage.map((u) => u.request_id));
    const tiers = records.filter((r): r is TierRecord => r.kind === 'tier');
    if (tiers.length > 0) await recordTierEvents(trx, tiers);
    // Rare (calls billed other than as reported): a statement only when the batch has any.
    await insertReviews(trx, usage.filter((u): u is UsageEvent & { review: UsageReview } => u.review !== undefined));
    // The statements that lock shared rows go last, the usage insert before the decisions': each holds those
    // locks until this transaction commits, after inserting its own ledger rows. Taken any earlier, the locks
    // would make another replica's writer wait before its ledger insert rather than after it, and concurrent
    // writers would run one at a time (ingest bench: two writers ×1.5 of one this way, ×1 before).
    let usageInserted = usage.length > 0 ? await insertCounting(trx, INSERT_USAGE, columnArrays(USAGE_COLUMNS, usage)) : 0;
    if (usageInserted < usage.length) usageInserted += await replaceFallbacks(trx, usage);
    const decisionsInserted = decisions.length > 0 ? await insertCounting(trx, INSERT_DECISIONS, columnArrays(DECISION_COLUMNS, decisions)) : 0;
    return { usageInserted, decisionsInserted };
  });
}

/**
 * Some events found their request_id in the ledger: a replay (nothing to do), or a call whose dead-gateway
 * fallback was written while it was still live (src/db/fallbacks.ts): that row goes, with what it added to the
 * figures, and the real event is inserted in its place, flagged `replaced_fallback`. Only when some event did
 * not insert (replays, rare fallbacks), so the common batch runs no statement more. A second usage statement in
 * the transaction takes its row locks after the first's, out of key order: two writers replacing fallbacks at
 * once can deadlock, which Postgres breaks and the writer retries (40P01 is not bad data).
 */
async function replaceFallbacks(trx: Db, usage: readonly UsageEvent[]): Promise<number> {
  const candidates = usage.filter((u) => !u.flags?.includes('fallback')).map((u) => u.request_id);
  const replaced = new Set(await undoFallbacks(trx, candidates));
  if (replaced.size === 0) return 0;
  const real = usage.filter((u) => replaced.has(u.request_id)).map((u): UsageEvent => ({ ...u, flags: [...(u.flags ?? []), 'replaced_fallback'] }));
  return insertCounting(trx, INSERT_USAGE, columnArrays(USAGE_COLUMNS, real));
}

export type LedgerFilter = { buId?: string; useCaseId?: string; from?: Date | string; to?: Date | string };

export type LedgerTotals = {
  calls: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  /** Exact, MONEY_SCALE decimals. */
  cost: string;
};

export type UsageRow = Omit<UsageEvent, 'kind' | 'ts'> & { id: number; ts: Date; recorded_at: Date; accounting_period: string };

export type ChargebackRow = { bu_id: string; use_case_id: string } & LedgerTotals;

export type SpendRow = {
  use_case_id: string;
  period: string;
  period_start: Date;
  cost: string;
  tokens: number;
  calls: number;
};

const TOTALS = [
  'count(*)::int8 as calls',
  'coalesce(sum(input_tokens), 0)::int8 as input_tokens',
  'coalesce(sum(cached_input_tokens), 0)::int8 as cached_input_tokens',
  'coalesce(sum(cache_write_tokens), 0)::int8 as cache_write_tokens',
  'coalesce(sum(output_tokens), 0)::int8 as output_tokens',
  'coalesce(sum(cost), 0)::numeric(38, 12) as cost',
].join(', ');

/** Totals over usage_events; `from` is inclusive, `to` exclusive. */
export async function sumLedger(db: Db, filter: LedgerFilter = {}): Promise<LedgerTotals> {
  const row = await whereLedger(db('usage_events'), filter).first(db.raw(TOTALS));
  return totals(row as LedgerTotals);
}

export async function usageByRequestId(db: Db, requestId: string): Promise<UsageRow | null> {
  const row = (await db('usage_events').where({ request_id: requestId }).first()) as UsageRow | undefined;
  return row ?? null;
}

export type DecisionFilter = { code?: string; allowed?: boolean; from?: Date | string; to?: Date | string };

export async function countDecisions(db: Db, filter: DecisionFilter = {}): Promise<number> {
  const q = db('decision_log');
  if (filter.code !== undefined) q.where('code', filter.code);
  if (filter.allowed !== undefined) q.where('allowed', filter.allowed);
  if (filter.from !== undefined) q.where('ts', '>=', filter.from);
  if (filter.to !== undefined) q.where('ts', '<', filter.to);
  const row = (await q.first(db.raw('count(*)::int8 as n'))) as { n: number };
  return row.n;
}

/** Spend per BU × use case for [from, to), ordered by BU then use case. */
export async function chargeback(db: Db, period: { from: Date | string; to: Date | string }): Promise<ChargebackRow[]> {
  const rows = (await whereLedger(db('usage_events'), period)
    .select('bu_id', 'use_case_id', db.raw(TOTALS))
    .groupBy('bu_id', 'use_case_id')
    .orderBy(['bu_id', 'use_case_id'])) as ChargebackRow[];
  return rows.map((r) => ({ ...r, ...totals(r) }));
}

/** Rows of use_case_spend (what the budget engine reads), for one use case or all. */
export async function readSpend(db: Db, useCaseId?: string): Promise<SpendRow[]> {
  const q = db('use_case_spend').select('*').orderBy(['use_case_id', 'period', 'period_start']);
  if (useCaseId !== undefined) q.where('use_case_id', useCaseId);
  const rows = (await q) as SpendRow[];
  return rows.map((r) => ({ ...r, cost: toMoney(r.cost) }));
}

/**
 * Runs a batch statement, prepared by its name, on the transaction's connection. A refusal's message is prefixed
 * with the statement's name and ` - `, as knex prefixes its statements' (the meter sets aside Postgres' own message).
 */
async function insertCounting(trx: Db, statement: Prepared, arrays: string[]): Promise<number> {
  try {
    const { rows } = await runPrepared<{ inserted: number }>(trx, statement.name, statement.text, arrays);
    return rows[0]?.inserted ?? 0;
  } catch (err) {
    if (err instanceof Error) err.message = `${statement.name} - ${err.message}`;
    throw err;
  }
}

function whereLedger<Q extends ReturnType<Db>>(q: Q, filter: LedgerFilter): Q {
  if (filter.buId !== undefined) q.where('bu_id', filter.buId);
  if (filter.useCaseId !== undefined) q.where('use_case_id', filter.useCaseId);
  if (filter.from !== undefined) q.where('ts', '>=', filter.from);
  if (filter.to !== undefined) q.where('ts', '<', filter.to);
  return q;
}

function totals(row: LedgerTotals): LedgerTotals {
  return {
    calls: Number(row.calls),
    input_tokens: Number(row.input_tokens),
    cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens),
    output_tokens: Number(row.output_tokens),
    cost: toMoney(row.cost),
  };
}

/**
 * One Postgres array literal per column (`{"a","b",null}`), bound as text and cast in SQL (`?::int8[]`). The
 * driver would build the same text from a JS array, escaping every element with two regular expressions.
 * Metering runs in the gateway's process, so its CPU is taken from the proxying.
 */
export function columnArrays<T>(columns: readonly Column<T>[], records: readonly T[]): string[] {
  return columns.map(([name, , value]) => arrayLiteral(records.map(value ?? ((r) => r[name]))));
}

/**
 * An array literal of strings, numbers, booleans, Dates and nulls. JSON writes one in the same syntax (a string
 * quoted, `"` and `\` escaped by a backslash, `null` unquoted) and in native code: it takes a third of the
 * time of escaping each element here. JSON differs where it escapes a control character (`\n`, `\u0001`) or
 * a lone surrogate, which an array literal would read as a plain letter: those arrays are written element by element.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  const json = JSON.stringify(values);
  if (!/\\[^"\\]/.test(json)) return `{${json.slice(1, -1)}}`;
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'number' || typeof v === 'boolean') parts[i] = String(v);
    else {
      const text = v instanceof Date ? v.toISOString() : String(v);
      parts[i] = `"${text.replace(/["\\]/g, '\\$&')}"`;
    }
  }
  return `{${parts.join(',')}}`;
}

function names<T>(columns: readonly Column<T>[]): string {
  return columns.map(([name]) => name).join(', ');
}

/** `$1::text[], $2::timestamptz[], …`: the statements go to Postgres as written (runPrepared), not through knex's `?`. */
function arrayParams<T>(columns: readonly Column<T>[]): string {
  return columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
