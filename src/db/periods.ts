import { focusRows, toCsv, type FocusGroup, type TokenKind } from '../analytics/focus.js';
import { monthRange } from '../budgets/period.js';
import { toMoney } from '../metering/money.js';
import type { Db } from './knex.js';

/**
 * Accounting periods. Every ledger row keeps its true `ts` and carries `accounting_period` (YYYY-MM): the
 * month of ts, or, when that month was closed before the row arrived, the next open month (set by the
 * trigger of migration 011). Closing a month stores its totals; they never change afterwards, because
 * later rows for it are billed in a later period as corrections.
 */

export type PeriodTotals = {
  calls: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost: string;
  currency: string;
  /** Rows billed in this period whose usage happened in an earlier, closed month. */
  corrections: { calls: number; cost: string };
  by_bu: { bu_id: string; calls: number; cost: string }[];
};

export type PeriodClose = { period: string; closed_at: Date; closed_by: string; totals: PeriodTotals; carry_to: string };

export class PeriodClosedError extends Error {
  constructor(period: string) {
    super(`period ${period} is already closed`);
    this.name = 'PeriodClosedError';
  }
}

const IS_CORRECTION = `accounting_period <> to_char(ts at time zone 'UTC', 'YYYY-MM')`;

/**
 * Freezes `period`. The SHARE lock on usage_events waits for writers in flight to commit and holds new ones
 * off until the close commits: no row can slip into the month between its totals and its close. Writers
 * wait a moment (their journal keeps the events); closing is a monthly operation.
 */
export async function closePeriod(db: Db, period: string, closedBy: string): Promise<PeriodClose> {
  monthRange(period); // validates YYYY-MM
  return db.transaction(async (trx) => {
    await trx.raw('lock table usage_events in share mode');
    if (await trx('period_closes').where({ period }).first('period')) throw new PeriodClosedError(period);
    const totals = await periodTotals(trx, period);
    const [row] = (await trx('period_closes').insert({ period, closed_by: closedBy, totals: JSON.stringify(totals), carry_to: period }).returning('*')) as PeriodClose[];
    await updateCarryTo(trx);
    return row!;
  });
}

/** Points every closed month at the first open month after it (where its late rows are billed). */
async function updateCarryTo(trx: Db): Promise<void> {
  const closed = new Set(((await trx('period_closes').select('period')) as { period: string }[]).map((r) => r.period));
  for (const period of closed) {
    let next = nextMonth(period);
    while (closed.has(next)) next = nextMonth(next);
    await trx('period_closes').where({ period }).update({ carry_to: next });
  }
}

function nextMonth(period: string): string {
  const { to } = monthRange(period);
  return `${to.getUTCFullYear()}-${String(to.getUTCMonth() + 1).padStart(2, '0')}`;
}

export async function listPeriodCloses(db: Db): Promise<PeriodClose[]> {
  return (await db('period_closes').select('*').orderBy('period')) as PeriodClose[];
}

export async function isPeriodClosed(db: Db, period: string): Promise<boolean> {
  return (await db('period_closes').where({ period }).first('period')) !== undefined;
}

/**
 * What is billed in `period` now (for a closed period, equal to its stored totals). The three reads run one
 * after another: `period close` passes its transaction, one connection, which node-postgres would be asked
 * to run them on at once (deprecated, and refused by pg 9).
 */
export async function periodTotals(db: Db, period: string): Promise<PeriodTotals> {
  const base = () => db('usage_events').where('accounting_period', period);
  const all = await base().first(
    db.raw('count(*)::int8 as calls'),
    db.raw('coalesce(sum(input_tokens), 0)::int8 as input_tokens'),
    db.raw('coalesce(sum(cached_input_tokens), 0)::int8 as cached_input_tokens'),
    db.raw('coalesce(sum(cache_write_tokens), 0)::int8 as cache_write_tokens'),
    db.raw('coalesce(sum(output_tokens), 0)::int8 as output_tokens'),
    db.raw('coalesce(sum(cost), 0)::text as cost'),
    db.raw(`coalesce(min(currency), 'USD') as currency`),
  );
  const corrections = await base().whereRaw(IS_CORRECTION).first(db.raw('count(*)::int8 as calls'), db.raw('coalesce(sum(cost), 0)::text as cost'));
  const byBu = await base().select('bu_id', db.raw('count(*)::int8 as calls'), db.raw('sum(cost)::text as cost')).groupBy('bu_id').orderBy('bu_id');
  const a = all as Record<string, string | number>;
  const c = corrections as { calls: number; cost: string };
  return {
    calls: Number(a.calls),
    input_tokens: Number(a.input_tokens),
    cached_input_tokens: Number(a.cached_input_tokens),
    cache_write_tokens: Number(a.cache_write_tokens),
    output_tokens: Number(a.output_tokens),
    cost: toMoney(String(a.cost)),
    currency: String(a.currency),
    corrections: { calls: Number(c.calls), cost: toMoney(c.cost) },
    by_bu: (byBu as { bu_id: string; calls: number; cost: string }[]).map((r) => ({ bu_id: r.bu_id, calls: Number(r.calls), cost: toMoney(r.cost) })),
  };
}

/**
 * The FOCUS grain of one accounting period (see src/analytics/focus.ts), through the accounting_period
 * index: an export reads one month of the ledger once, which a monthly file can afford; rollups are hourly
 * by event time and cannot tell a correction apart. `buId` scopes it for a BU owner.
 */
export async function focusGroups(db: Db, period: string, scope: { buId?: string } = {}): Promise<FocusGroup[]> {
  const q = db('usage_events as u')
    .leftJoin('prices as p', 'p.id', 'u.price_id')
    .leftJoin('providers as pr', 'pr.id', 'u.provider')
    .select(
      db.raw(`date_trunc('day', u.ts at time zone 'UTC') at time zone 'UTC' as day`),
      'u.bu_id', 'u.use_case_id', 'u.agent_id', 'u.provider', db.raw('coalesce(pr.name, u.provider) as provider_name'),
      'u.model_requested', 'u.model_served', 'u.price_id', 'u.budget_tier', 'u.policy_revision', 'u.currency',
      db.raw(`(u.${IS_CORRECTION}) as correction`),
      db.raw('count(*)::int8 as calls'),
      db.raw('sum(u.input_tokens)::int8 as input_tokens'),
      db.raw('sum(u.cached_input_tokens)::int8 as cached_input_tokens'),
      db.raw('sum(u.cache_write_tokens)::int8 as cache_write_tokens'),
      db.raw('sum(u.output_tokens)::int8 as output_tokens'),
      db.raw('sum(u.cost)::text as cost'),
      db.raw('p.input_per_mtok::text as p_input'),
      db.raw('p.cached_input_per_mtok::text as p_cached_input'),
      db.raw('p.cache_write_per_mtok::text as p_cache_write'),
      db.raw('p.output_per_mtok::text as p_output'),
    )
    .where('u.accounting_period', period)
    .groupByRaw('1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, p.id')
    .orderByRaw('1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13');
  if (scope.buId !== undefined) q.where('u.bu_id', scope.buId);
  const rows = (await q) as (Omit<FocusGroup, 'price'> & Record<`p_${TokenKind}`, string | null>)[];
  return rows.map(({ p_input, p_cached_input, p_cache_write, p_output, ...r }) => ({
    ...r,
    calls: Number(r.calls),
    input_tokens: Number(r.input_tokens),
    cached_input_tokens: Number(r.cached_input_tokens),
    cache_write_tokens: Number(r.cache_write_tokens),
    output_tokens: Number(r.output_tokens),
    cost: toMoney(r.cost),
    price: p_input === null ? null : { input: p_input, cached_input: p_cached_input!, cache_write: p_cache_write!, output: p_output! },
  }));
}

/** The FOCUS CSV of one accounting period (YYYY-MM). */
export async function focusCsv(db: Db, period: string, scope: { buId?: string } = {}): Promise<string> {
  return toCsv(focusRows(await focusGroups(db, period, scope), monthRange(period)));
}
