import type { Knex } from 'knex';
import type { BudgetRow } from './budgets.js';
import type { OutboxStatus } from './notifications.js';
import type { BudgetScope } from '../policy/types.js';
import type { Recipient, Tier } from '../budgets/payload.js';

/**
 * Budgets as the analytics API shows them: each with the BU and use case it belongs to (so that a BU
 * owner's scope is a WHERE clause), its counters in the period containing `at`, and its tier events with
 * their delivery state. Session budgets are listed with their caps only (their counters are per session).
 */

export type BudgetView = BudgetRow & {
  bu_id: string | null;
  use_case_id: string | null;
  period_start: Date;
  spent: string;
  reserved: string;
  calls: number;
};

export type BudgetViewFilter = {
  scopes?: readonly BudgetScope[];
  buId?: string;
  useCaseId?: string;
  /** Also list budgets that belong to no BU (the global session cap, scope_id '*'). */
  includeGlobal?: boolean;
};

// The BU of a budget: its use case's (use_case, session), its agent's, or itself.
const VIEW_SQL = `
with bb as (
  select b.*, (date_trunc(b.period, :at::timestamptz at time zone 'UTC') at time zone 'UTC') as period_start,
    case b.scope when 'bu' then b.scope_id when 'agent' then ag.bu_id else uc.bu_id end as bu_id,
    case when b.scope in ('use_case', 'session') and b.scope_id <> '*' then b.scope_id end as use_case_id
  from budgets b
  left join use_cases uc on b.scope in ('use_case', 'session') and uc.id = b.scope_id
  left join agents ag on b.scope = 'agent' and ag.id = b.scope_id
)
select bb.*, coalesce(c.spent, 0) as spent, coalesce(c.reserved, 0) as reserved, coalesce(c.calls, 0) as calls
from bb
left join budget_counters c on bb.scope <> 'session' and c.budget_id = bb.id and c.key = '' and c.period_start = bb.period_start
where (cast(:scopes as text) is null or bb.scope = any(string_to_array(cast(:scopes as text), ',')))
  and (cast(:useCase as text) is null or bb.use_case_id = :useCase)
  and (cast(:bu as text) is null or bb.bu_id = :bu or (:includeGlobal and bb.bu_id is null))
order by bb.scope, bb.scope_id`;

export async function listBudgetViews(db: Knex, at: Date, filter: BudgetViewFilter = {}): Promise<BudgetView[]> {
  const result = (await db.raw(VIEW_SQL, {
    at: at.toISOString(),
    scopes: filter.scopes ? filter.scopes.join(',') : null,
    useCase: filter.useCaseId ?? null,
    bu: filter.buId ?? null,
    includeGlobal: filter.includeGlobal ?? false,
  })) as { rows: BudgetView[] };
  return result.rows.map((r) => ({
    ...r, id: Number(r.id), spent: String(r.spent), reserved: String(r.reserved), calls: Number(r.calls),
    limit_amount: r.limit_amount === null ? null : String(r.limit_amount),
    max_calls: r.max_calls === null ? null : Number(r.max_calls),
    period_start: new Date(r.period_start),
  }));
}

/** The BU a budget belongs to (null: none, or no such budget). */
export async function budgetBu(db: Knex, scope: BudgetScope, scopeId: string): Promise<string | null> {
  if (scope === 'bu') return scopeId;
  if (scope === 'agent') return ((await db('agents').where('id', scopeId).first('bu_id')) as { bu_id: string } | undefined)?.bu_id ?? null;
  return ((await db('use_cases').where('id', scopeId).first('bu_id')) as { bu_id: string } | undefined)?.bu_id ?? null;
}

export type Delivery = {
  event_id: number; recipient: Recipient; status: OutboxStatus; attempts: number;
  delivered_at: Date | null; last_error: string | null; last_status: number | null;
};

export type TierEventView = {
  id: number; budget_id: number; period_start: Date; key: string; tier: Tier; ratio: string; spent: string;
  limit_amount: string; unit: string; request_id: string; crossed_at: Date; deliveries: Delivery[];
};

/** Tier events of (budget, period) pairs, non-session (key ''), oldest first, with their deliveries: one query each. */
export async function tierEventsOf(db: Knex, periods: readonly { budgetId: number; periodStart: Date }[]): Promise<TierEventView[]> {
  if (periods.length === 0) return [];
  const events = (await db('budget_tier_events')
    .whereIn(['budget_id', 'period_start'], periods.map((p) => [p.budgetId, p.periodStart.toISOString()]))
    .andWhere('key', '')
    .orderBy('id')) as TierEventView[];
  const ids = events.map((e) => Number(e.id));
  const deliveries = ids.length === 0 ? [] : ((await db('notification_outbox')
    .whereIn('event_id', ids)
    .orderBy(['event_id', 'recipient'])
    .select('event_id', 'recipient', 'status', 'attempts', 'delivered_at', 'last_error', 'last_status')) as Delivery[]);
  const byEvent = new Map<number, Delivery[]>();
  for (const d of deliveries) {
    const id = Number(d.event_id);
    byEvent.set(id, [...(byEvent.get(id) ?? []), { ...d, event_id: id, attempts: Number(d.attempts) }]);
  }
  return events.map((e) => ({
    ...e, id: Number(e.id), budget_id: Number(e.budget_id), ratio: String(e.ratio), spent: String(e.spent),
    limit_amount: String(e.limit_amount), period_start: new Date(e.period_start), deliveries: byEvent.get(Number(e.id)) ?? [],
  }));
}
