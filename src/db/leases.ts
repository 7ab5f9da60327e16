import type { Db } from './knex.js';
import type { BudgetScope } from '../policy/types.js';
import type { BudgetPeriod, BudgetUnit } from './budgets.js';
import { runPrepared } from './budgets.js';
export { BUDGETS_CHANNEL } from './migrations/031_budget_leases.js';

/** A budget's definition, as the replica caches it to know which leases a call needs. */
export type BudgetDefinition = {
  id: number; scope: BudgetScope; scope_id: string; unit: BudgetUnit; period: BudgetPeriod;
  limit_amount: string | null; max_calls: number | null;
};

/** What tollgate_lease_acquire returns per budget it was asked for (see migrations 031, 032, 042 and 043). */
export type AcquiredLease = {
  id: number; scope: BudgetScope; scope_id: string; unit: BudgetUnit; period: BudgetPeriod; limit_amount: string | null;
  max_calls: number | null; period_start: Date; key: string; spent: string; reserved: string; calls: string;
  lease_amount: string; lease_calls: number; granted: string; granted_calls: number;
};

/** What tollgate_lease_settle returns per lease still held. */
export type SettledLease = {
  id: number; period_start: Date; key: string; limit_amount: string | null; max_calls: number | null;
  spent: string; reserved: string; calls: string; lease_amount: string; lease_calls: number;
};

export type LeaseRequest = {
  holder: string; at: Date; expiresAt: Date; bu: string; useCase: string; agent: string; session: string;
  /** Decimal strings in each unit, and a number of calls for budgets that cap calls. */
  usd: string; tokens: string; calls: number;
  /** The budgets (ids) to take leases on; absent: every budget that applies to the call. */
  only?: readonly number[];
};

export type Settlement = {
  budgetId: number; periodStart: Date; key: string;
  release: string; releaseCalls: number; want: string; wantCalls: number;
};

/**
 * A lease is granted only where the room left is `headroom` times it and it is at most `maxShare` of the cap; a
 * slice is at least `minShare` of the cap.
 */
export type LeasePolicy = { headroom: number; hardCap: number; minShare: number; maxShare: number };

export async function budgetDefinitions(db: Db): Promise<BudgetDefinition[]> {
  return (await db('budgets').select('id', 'scope', 'scope_id', 'unit', 'period', 'limit_amount', 'max_calls').orderBy('id')) as BudgetDefinition[];
}

const ACQUIRE_SQL = 'select * from tollgate_lease_acquire($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::int[])';

export async function acquireLeases(db: Db, r: LeaseRequest, p: LeasePolicy): Promise<AcquiredLease[]> {
  const { rows } = await runPrepared<AcquiredLease>(db, 'tollgate_lease_acquire', ACQUIRE_SQL, [
    r.holder, r.at.toISOString(), r.expiresAt.toISOString(), r.bu, r.useCase, r.agent, r.session, r.usd, r.tokens, r.calls, p.headroom, p.hardCap, p.minShare, p.maxShare,
    r.only === undefined ? null : [...r.only],
  ]);
  return rows.map((x) => ({ ...x, lease_calls: Number(x.lease_calls), granted_calls: Number(x.granted_calls) }));
}

const SETTLE_SQL = `select * from tollgate_lease_settle($1, $2, $3, $4, $5,
  $6::int[], $7::timestamptz[], $8::text[], $9::numeric[], $10::int[], $11::numeric[], $12::int[])`;

/** One statement for all of a holder's leases; `entries` must be in (budget, period start, key) order. */
export async function settleLeases(db: Db, holder: string, expiresAt: Date, entries: readonly Settlement[], p: LeasePolicy): Promise<SettledLease[]> {
  const { rows } = await runPrepared<SettledLease>(db, 'tollgate_lease_settle', SETTLE_SQL, [
    holder, expiresAt.toISOString(), p.headroom, p.hardCap, p.maxShare,
    entries.map((e) => e.budgetId), entries.map((e) => e.periodStart.toISOString()), entries.map((e) => e.key),
    entries.map((e) => e.release), entries.map((e) => e.releaseCalls), entries.map((e) => e.want), entries.map((e) => e.wantCalls),
  ]);
  return rows.map((x) => ({ ...x, lease_calls: Number(x.lease_calls) }));
}

/** The counters get back what the deleted lease rows (`rel`) held. */
const GIVE_BACK_SQL = (which: string) => `
with rel as (
  delete from budget_leases where ${which}
  returning budget_id, period_start, key, amount, calls
), agg as (
  select budget_id, period_start, key, sum(amount) as amount, sum(calls) as calls from rel group by 1, 2, 3
)
update budget_counters bc set reserved = bc.reserved - agg.amount, calls = bc.calls - agg.calls
from agg where bc.budget_id = agg.budget_id and bc.period_start = agg.period_start and bc.key = agg.key`;

/** Leases of replicas that stopped settling (died) go back to their budgets. */
const SWEEP_SQL = GIVE_BACK_SQL('expires_at < now()');

export async function sweepExpiredLeases(db: Db): Promise<number> {
  return (await runPrepared(db, 'tollgate_sweep_leases', SWEEP_SQL, [])).rowCount;
}

/**
 * Every lease row a stopping replica holds goes back whole, whatever its own accounting says: a settlement whose
 * commit reached Postgres but whose answer did not (Postgres stopped mid-statement) leaves a row holding room the
 * replica no longer knows of, which would otherwise wait for its expiry.
 */
const RELEASE_HOLDER_SQL = GIVE_BACK_SQL('holder = $1');

export async function releaseHolderLeases(db: Db, holder: string): Promise<number> {
  return (await runPrepared(db, 'tollgate_release_holder_leases', RELEASE_HOLDER_SQL, [holder])).rowCount;
}
