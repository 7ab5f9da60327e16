import type { Knex } from 'knex';
import type { Db } from './knex.js';
import type { BudgetScope } from '../policy/types.js';

export type BudgetUnit = 'usd' | 'tokens';
export type BudgetPeriod = 'day' | 'week' | 'month' | 'quarter';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month', 'quarter'];
export const BUDGET_SCOPES: readonly BudgetScope[] = ['use_case', 'bu', 'agent', 'session'];

export type BudgetInput = {
  scope: BudgetScope;
  scopeId: string;
  limit: string | null;
  unit: BudgetUnit;
  period: BudgetPeriod;
  maxCalls?: number | null;
};

export type BudgetRow = {
  id: number; scope: BudgetScope; scope_id: string; limit_amount: string | null; unit: BudgetUnit;
  currency: string | null; period: BudgetPeriod; max_calls: number | null; created_at: Date; updated_at: Date;
};

/** The call a reservation is for: which budgets apply is decided by these. */
export type ReservationSubject = {
  requestId: string;
  at: Date;
  bu: string;
  useCase: string;
  agent: string;
  session: string;
  /** Worst case in each unit. */
  cost: string;
  tokens: number;
  expiresAt: Date;
};

/** One applicable budget and its counters, before this call's reservation. */
export type ReservedBudget = {
  id: number; scope: BudgetScope; scope_id: string; unit: BudgetUnit; period: BudgetPeriod;
  limit_amount: string | null; max_calls: number | null; period_start: Date; key: string;
  amount: string; spent: string; reserved_before: string; calls_before: number;
};

/** Creates or changes a budget; returns the row before (null when new) and after. */
export async function upsertBudget(db: Db | Knex.Transaction, b: BudgetInput): Promise<{ before: BudgetRow | null; after: BudgetRow }> {
  const before = ((await db('budgets').where({ scope: b.scope, scope_id: b.scopeId }).first()) as BudgetRow | undefined) ?? null;
  const values = {
    limit_amount: b.limit, unit: b.unit, currency: b.unit === 'usd' ? 'USD' : null, period: b.period,
    max_calls: b.maxCalls ?? null,
  };
  const [after] = (await db('budgets')
    .insert({ scope: b.scope, scope_id: b.scopeId, ...values })
    .onConflict(['scope', 'scope_id'])
    .merge({ ...values, updated_at: db.fn.now() })
    .returning('*')) as BudgetRow[];
  return { before, after: after! };
}


/**
 * Which budgets apply to a call: its use case, BU and agent, and the session caps of its use case ('*': all).
 * `b` qualifies the budgets' columns (`b.` or nothing); the call's are SQL expressions (columns or parameters).
 */
export function budgetApplies(b: string, call: { bu: string; useCase: string; agent: string }): string {
  return `(${b}scope = 'use_case' and ${b}scope_id = ${call.useCase}) or (${b}scope = 'bu' and ${b}scope_id = ${call.bu})
    or (${b}scope = 'agent' and ${b}scope_id = ${call.agent}) or (${b}scope = 'session' and ${b}scope_id in (${call.useCase}, '*'))`;
}

// The statements the hot path runs take positional parameters ($n): they are prepared by name (see `run`).
const APPLICABLE = budgetApplies('', { bu: '$2', useCase: '$3', agent: '$4' });

// date_trunc's fields are the period names; UTC boundaries whatever the server's time zone.
const periodStart = (period: string, at: string) => `(date_trunc(${period}, ${at}::timestamptz at time zone 'UTC') at time zone 'UTC')`;

/**
 * Reserves the call's worst case against every applicable budget, atomically (one statement; the counter
 * rows are the lock), and records it as one row for the call (parallel arrays in budget-id order). Returns
 * each budget with its counters as they were before this reservation, which is what the policy judges;
 * calls that race serialize on the counter rows, so each sees the others.
 */
const RESERVE_SQL = `
with b as (
  select id, scope, scope_id, unit, period, limit_amount, max_calls, ${periodStart('period', '$1')} as period_start,
    case when scope = 'session' then $5::text else '' end as key,
    case when unit = 'usd' then $6::numeric else $7::numeric end as amount
  from budgets where ${APPLICABLE}
  order by id
), c as (
  insert into budget_counters as bc (budget_id, period_start, key, reserved, calls)
  select id, period_start, key, amount, 1 from b
  on conflict (budget_id, period_start, key) do update
    set reserved = bc.reserved + excluded.reserved, calls = bc.calls + 1
  returning budget_id, spent, reserved, calls
), r as (
  insert into budget_reservations (request_id, budget_ids, period_starts, keys, amounts, expires_at)
  select $8::text, array_agg(id order by id), array_agg(period_start order by id), array_agg(key order by id),
    array_agg(amount order by id), $9::timestamptz
  from b having count(*) > 0
)
select b.id, b.scope, b.scope_id, b.unit, b.period, b.limit_amount, b.max_calls, b.period_start, b.key, b.amount,
  c.spent, c.reserved - b.amount as reserved_before, c.calls - 1 as calls_before
from b join c on c.budget_id = b.id
order by b.id`;

export async function reserveBudgets(db: Db, s: ReservationSubject): Promise<ReservedBudget[]> {
  const { rows } = await runPrepared<ReservedBudget>(db, 'tollgate_reserve_budgets', RESERVE_SQL, [
    s.at.toISOString(), s.bu, s.useCase, s.agent, s.session, s.cost, s.tokens, s.requestId, s.expiresAt.toISOString(),
  ]);
  return rows.map((r) => ({ ...r, calls_before: Number(r.calls_before), spent: String(r.spent), reserved_before: String(r.reserved_before), amount: String(r.amount), limit_amount: r.limit_amount === null ? null : String(r.limit_amount) }));
}

// A reservation row's entries, one per budget, in budget-id order (`ord`).
const ENTRIES = (r: string) => `unnest(${r}.budget_ids, ${r}.period_starts, ${r}.keys, ${r}.amounts)
  with ordinality as u(budget_id, period_start, key, amount, ord)`;

/**
 * Lowers a call's reservation to its served worst case (a clamped output limit, a cheaper model), so that
 * calls near a cap are not refused for room this one will never use. Never raises one.
 */
const SHRINK_SQL = `
with r as (
  select * from budget_reservations where request_id = $1 for update
), old as (
  select u.budget_id, u.period_start, u.key, u.amount, u.ord,
    least(u.amount, case when b.unit = 'usd' then $2::numeric when b.unit = 'tokens' then $3::numeric end) as new_amount
  from r cross join lateral ${ENTRIES('r')}
  left join budgets b on b.id = u.budget_id
), upd as (
  update budget_reservations set amounts = (select array_agg(new_amount order by ord) from old)
  where request_id = $1 and exists (select 1 from old where new_amount < amount)
)
update budget_counters bc set reserved = bc.reserved - (old.amount - old.new_amount)
from old where old.new_amount < old.amount
  and bc.budget_id = old.budget_id and bc.period_start = old.period_start and bc.key = old.key`;

export async function shrinkReservation(db: Db, requestId: string, worst: { cost: string; tokens: number }): Promise<void> {
  await runPrepared(db, 'tollgate_shrink_reservation', SHRINK_SQL, [requestId, worst.cost, worst.tokens]);
}

/**
 * Gives back a denied call's reservation (its call is not counted either). Whoever deletes the reservation
 * row adjusts the counters, so this, the ledger writer and the expiry sweep never release one twice.
 */
const RELEASE_DENIED_SQL = `
with rel as (
  delete from budget_reservations where request_id = $1
  returning budget_ids, period_starts, keys, amounts
), u as (
  select u.* from rel cross join lateral ${ENTRIES('rel')}
)
update budget_counters bc set reserved = bc.reserved - u.amount, calls = bc.calls - 1
from u where bc.budget_id = u.budget_id and bc.period_start = u.period_start and bc.key = u.key`;

export async function releaseDenied(db: Db, requestId: string): Promise<void> {
  await runPrepared(db, 'tollgate_release_denied', RELEASE_DENIED_SQL, [requestId]);
}

/**
 * Reservations whose replica died (or whose call outlived every timeout: live calls renew theirs) are given back,
 * with the call each counted: a call whose usage is written later (its dead-gateway fallback, a journal replayed)
 * is counted then, as a call without a reservation is, so that it counts once whichever comes first.
 */
const SWEEP_SQL = `
with rel as (
  delete from budget_reservations where expires_at < now()
  returning budget_ids, period_starts, keys, amounts
), agg as (
  select u.budget_id, u.period_start, u.key, sum(u.amount) as amount, count(*) as calls
  from rel cross join lateral ${ENTRIES('rel')}
  group by 1, 2, 3
)
update budget_counters bc set reserved = bc.reserved - agg.amount, calls = bc.calls - agg.calls
from agg where bc.budget_id = agg.budget_id and bc.period_start = agg.period_start and bc.key = agg.key`;

export async function sweepExpiredReservations(db: Db): Promise<number> {
  return (await runPrepared(db, 'tollgate_sweep_reservations', SWEEP_SQL, [])).rowCount;
}

// The call's columns in the writer's CTEs (`source` is aliased `ev`).
const CALL_COLUMNS = { bu: 'ev.bu_id', useCase: 'ev.use_case_id', agent: 'ev.agent_id' };

/**
 * For usage rows the writer has just inserted (so exactly once per call): add their real spend to every
 * applicable budget's counter of their period, and give back their reservations.
 *
 * Written as CTEs over `source` (request_id, ts, bu_id, use_case_id, agent_id, session_id, cost, tokens) so
 * that the ledger writer can chain them onto its insert's RETURNING in the same statement (src/db/ledger.ts).
 * Calls: a reservation counted its call when it was made; the writer counts every call once in the period of
 * its usage and takes one back for every reservation entry it releases. A reserved call therefore ends up
 * counted once, in the period its spend is in, and a call that had no reservation (budget state was
 * unavailable and the policy failed open) is counted here. No join of the two sides, only one sum.
 * A deleted budget's entries are skipped (after the sum, per counter row): its counters went with it, and
 * an upsert would recreate them against a missing budget.
 *
 * The rows are first summed per BU, use case, agent, session and UTC day, which every budget period (day, week,
 * month, quarter, UTC) is made of whole: the join with the budgets' applicability (an OR of four scopes per
 * pair) then runs once per group, not once per row (ingest bench: it was a quarter of the statement's time).
 */
export function budgetCounterCtes(source: string): string {
  return `bc_rel_calls as (
  delete from budget_reservations r using ${source} where r.request_id = ev.request_id
  returning r.budget_ids, r.period_starts, r.keys, r.amounts
), bc_days as (
  select bu_id, use_case_id, agent_id, session_id, date_trunc('day', ev.ts at time zone 'UTC') as day,
    sum(cost) as cost, sum(tokens) as tokens, count(*) as calls
  from ${source}
  group by 1, 2, 3, 4, 5
), bc_deltas as (
  select b.id as budget_id,
    date_trunc(b.period, ev.day) at time zone 'UTC' as period_start,
    case when b.scope = 'session' then ev.session_id else '' end as key,
    case when b.unit = 'usd' then ev.cost else ev.tokens end as spent, 0::numeric as reserved, ev.calls
  from bc_days ev join budgets b on ${budgetApplies('b.', CALL_COLUMNS)}
  union all
  select u.budget_id, u.period_start, u.key, 0, -u.amount, -1
  from bc_rel_calls rel cross join lateral ${ENTRIES('rel')}
), bc_sums as (
  select budget_id, period_start, key, sum(spent) as spent, sum(reserved) as reserved, sum(calls) as calls
  from bc_deltas group by 1, 2, 3
), bc_counters as (
  insert into budget_counters as bc (budget_id, period_start, key, spent, reserved, calls)
  select budget_id, period_start, key, spent, reserved, calls from bc_sums
  where exists (select 1 from budgets b where b.id = bc_sums.budget_id)
  order by 1, 2, 3
  on conflict (budget_id, period_start, key) do update
    set spent = bc.spent + excluded.spent, reserved = bc.reserved + excluded.reserved, calls = bc.calls + excluded.calls
)`;
}

/**
 * The reverse of budgetCounterCtes' spend and calls for rows taken out of the ledger (a dead gateway's fallback
 * replaced by its call's real usage, src/db/fallbacks.ts): their reservations were given back when they were
 * written, so only spend and calls move. `source` is aliased `ev`, as above.
 */
export function budgetCounterUndoCtes(source: string): string {
  return `bcu_sums as (
  select b.id as budget_id,
    date_trunc(b.period, ev.ts at time zone 'UTC') at time zone 'UTC' as period_start,
    case when b.scope = 'session' then ev.session_id else '' end as key,
    sum(case when b.unit = 'usd' then ev.cost else ev.tokens end) as spent, count(*) as calls
  from ${source} join budgets b on ${budgetApplies('b.', CALL_COLUMNS)}
  group by 1, 2, 3
), bcu_counters as (
  update budget_counters bc set spent = bc.spent - s.spent, calls = bc.calls - s.calls
  from bcu_sums s where bc.budget_id = s.budget_id and bc.period_start = s.period_start and bc.key = s.key
)`;
}

type Connection = {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
  query(text: string, values: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
};

/**
 * Runs one of the hot path's statements on a connection of `db`'s pool, past knex's query builder. On
 * Postgres the statement is prepared by name once per connection: planning the reservation's CTEs was most
 * of its cost (about 0.5 ms of 0.9), and knex's formatting of a long statement cost as much as a round trip.
 * PGlite plans in process and takes the same statement unnamed.
 */
export async function runPrepared<R = unknown>(db: Db, name: string, text: string, values: unknown[]): Promise<{ rows: R[]; rowCount: number }> {
  const client = db.client as { config: { client: unknown }; acquireConnection(): Promise<Connection>; releaseConnection(c: Connection): Promise<void> };
  const conn = await client.acquireConnection();
  try {
    if (client.config.client === 'pg') {
      const res = await conn.query({ name, text, values });
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    }
    const res = await conn.query(text, values);
    return { rows: res.rows as R[], rowCount: res.affectedRows ?? 0 };
  } finally {
    await client.releaseConnection(conn);
  }
}

export type BudgetStatus = BudgetRow & { period_start: Date; spent: string; reserved: string; calls: number };

/** Every non-session budget with its counters in the period containing `at` (sessions: see the ledger). */
export async function budgetStatus(db: Db, at: Date): Promise<BudgetStatus[]> {
  const result = await db.raw(`
    select b.*, ${periodStart('b.period', ':at')} as period_start,
      coalesce(c.spent, 0) as spent, coalesce(c.reserved, 0) as reserved, coalesce(c.calls, 0) as calls
    from budgets b
    left join budget_counters c on c.budget_id = b.id and c.key = ''
      and c.period_start = ${periodStart('b.period', ':at')}
    where b.scope <> 'session'
    order by b.scope, b.scope_id`, { at: at.toISOString() });
  return (result.rows as BudgetStatus[]).map((r) => ({ ...r, spent: String(r.spent), reserved: String(r.reserved), calls: Number(r.calls) }));
}
