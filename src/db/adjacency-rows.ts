import type { Knex } from 'knex';
import type { AdjacencyRows, BudgetRow, CallRow, DailySpendRow, SessionRow, ToolUsageRow, UseCaseRow } from '../adjacency/types.js';
import type { Month } from '../adjacency/period.js';
import { loadClassCouplings } from './catalog.js';

/**
 * The adjacency analysis' rows for a month, aggregated in SQL: spend from the hourly rollups, tools from
 * tool_usage_daily, and from the ledger (through its ts index, bounded by the month) only what crosses BUs:
 * sessions whose calls span two or more BUs, and call → parent links between BUs, counted per pair of use
 * cases. A month of millions of calls comes back as a few thousand rows.
 */

type Conn = Knex | Knex.Transaction;

export type MonthRows = AdjacencyRows & {
  /** Each use case's spend as the exact decimal the rollups hold (rows carry it as a number). */
  exactSpend: Map<string, string>;
};

export async function readAdjacencyRows(db: Conn, month: Month): Promise<MonthRows> {
  const range = [month.from.toISOString(), month.to.toISOString()];
  const [useCases, couplings, tools, sessions, calls, dailySpend, budgets] = [
    await useCaseSpend(db, range), await loadClassCouplings(db), await toolUsage(db, month), await crossBuSessions(db, range),
    await crossBuCalls(db, range), await dailySpendOf(db, range), await monthBudgets(db, month),
  ];
  return {
    period: month.days,
    useCases: useCases.map(({ exact: _exact, ...u }) => u),
    exactSpend: new Map(useCases.map((u) => [u.id, u.exact])),
    couplings, tools, sessions, calls, dailySpend, budgets,
  };
}

async function useCaseSpend(db: Conn, range: string[]): Promise<(UseCaseRow & { exact: string })[]> {
  const { rows } = (await db.raw(`
    select uc.id, uc.bu_id, uc.class, coalesce(s.cost, 0)::text as cost
    from use_cases uc
    left join (select use_case_id, sum(cost) as cost from usage_hourly where hour >= ? and hour < ? group by use_case_id) s on s.use_case_id = uc.id
    order by uc.id`, range)) as { rows: { id: string; bu_id: string; class: string; cost: string }[] };
  return rows.map((r) => ({ id: r.id, bu: r.bu_id, class: r.class, spend: Number(r.cost), exact: r.cost }));
}

async function dailySpendOf(db: Conn, range: string[]): Promise<DailySpendRow[]> {
  const { rows } = (await db.raw(`
    select use_case_id, to_char(hour at time zone 'UTC', 'YYYY-MM-DD') as day, sum(cost)::float8 as cost
    from usage_hourly where hour >= ? and hour < ?
    group by 1, 2`, range)) as { rows: { use_case_id: string; day: string; cost: number }[] };
  return rows.map((r) => ({ use_case: r.use_case_id, day: r.day, cost: Number(r.cost) }));
}

async function toolUsage(db: Conn, month: Month): Promise<ToolUsageRow[]> {
  const { rows } = (await db.raw(`
    select use_case_id, tool, sum(calls)::float8 as calls
    from tool_usage_daily where day >= ?::date and day < ?::date
    group by 1, 2`, [month.days.from, month.days.to])) as { rows: { use_case_id: string; tool: string; calls: number }[] };
  return rows.map((r) => ({ use_case: r.use_case_id, tool: r.tool, calls: Number(r.calls) }));
}

async function crossBuSessions(db: Conn, range: string[]): Promise<SessionRow[]> {
  const { rows } = (await db.raw(`
    with spanning as (
      select session_id from usage_events where ts >= ? and ts < ?
      group by session_id having count(distinct bu_id) >= 2
    )
    select distinct e.session_id, e.use_case_id, e.bu_id
    from usage_events e join spanning s on s.session_id = e.session_id
    where e.ts >= ? and e.ts < ?`, [...range, ...range])) as { rows: { session_id: string; use_case_id: string; bu_id: string }[] };
  return rows.map((r) => ({ session_id: r.session_id, use_case: r.use_case_id, bu: r.bu_id }));
}

/**
 * Calls of the month whose parent (of any time) is in another BU, counted per (parent use case, use case).
 * The analysis reads call rows linked by request id; each group becomes one stand-in parent row and `n`
 * child rows pointing at it, which counts the same links without shipping every request id.
 */
async function crossBuCalls(db: Conn, range: string[]): Promise<CallRow[]> {
  const { rows } = (await db.raw(`
    select p.use_case_id as parent_use_case, p.bu_id as parent_bu, c.use_case_id, c.bu_id, count(*)::int as n
    from usage_events c join usage_events p on p.request_id = c.parent_request_id
    where c.ts >= ? and c.ts < ? and c.parent_request_id is not null and p.bu_id <> c.bu_id
    group by 1, 2, 3, 4 order by 1, 3`, range)) as { rows: { parent_use_case: string; parent_bu: string; use_case_id: string; bu_id: string; n: number }[] };
  return rows.flatMap((r, i) => {
    const parent = `group-${i}`;
    const children = Array.from({ length: Number(r.n) }, (_, k) => ({ request_id: `${parent}-${k}`, parent_request_id: parent, use_case: r.use_case_id, bu: r.bu_id }));
    return [{ request_id: parent, parent_request_id: null, use_case: r.parent_use_case, bu: r.parent_bu }, ...children];
  });
}

// A budget's limit over the analysed month: pro rata of its own period (a daily budget × days in the month).
const MONTH_SHARE_SQL = `case b.period when 'month' then 1 when 'day' then ?::float8 when 'week' then ?::float8 / 7 when 'quarter' then 1.0 / 3 end`;

/** Money budgets of use cases (token budgets do not compare with spend). */
async function monthBudgets(db: Conn, month: Month): Promise<BudgetRow[]> {
  const days = (month.to.getTime() - month.from.getTime()) / 86_400_000;
  const { rows } = (await db.raw(`
    select b.scope_id as use_case, (b.limit_amount * ${MONTH_SHARE_SQL})::float8 as limit
    from budgets b
    where b.scope = 'use_case' and b.unit = 'usd' and b.limit_amount is not null`, [days, days])) as { rows: { use_case: string; limit: number }[] };
  return rows.map((r) => ({ use_case: r.use_case, limit: Number(r.limit) }));
}
