import type { Knex } from 'knex';
import type { Db } from './knex.js';
import type { BudgetPeriod, BudgetScope, NotificationPayload, Recipient, Tier } from '../budgets/payload.js';

/** Tier events (budget_tier_events) and their delivery outbox (notification_outbox). */

export type TierEventInsert = {
  budget_id: number;
  period_start: string;
  key: string;
  tier: Tier;
  ratio: string;
  spent: string;
  limit_amount: string;
  unit: string;
  request_id: string;
  crossed_at: string;
};

export type TierEventRow = Omit<TierEventInsert, 'period_start' | 'crossed_at'> & {
  id: number;
  period_start: Date;
  crossed_at: Date;
  created_at: Date;
};

export type OutboxStatus = 'pending' | 'delivered' | 'failed' | 'no_target';
/** Tier notifications go to a budget's owner and finance; adjacency alerts to the council. */
export type OutboxRecipient = Recipient | 'council';

export type OutboxInsert = {
  event_id: number;
  recipient: Recipient;
  target_url: string | null;
  email: string | null;
  payload: NotificationPayload;
  status: 'pending' | 'no_target';
};

export type OutboxRow = Omit<OutboxInsert, 'status'> & {
  id: number;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  last_status: number | null;
  delivered_at: Date | null;
  created_at: Date;
};

/** A budget with the catalog contacts its notifications go to (owner: use case's, else the BU's). */
export type BudgetContacts = {
  id: number;
  scope: BudgetScope;
  scope_id: string;
  unit: string;
  currency: string | null;
  period: BudgetPeriod;
  bu: { id: string; name: string } | null;
  use_case: { id: string; name: string } | null;
  owner: { url: string | null; email: string | null };
  finance: { url: string | null; email: string | null };
};

/** Inserts the events not already recorded and returns only those (ON CONFLICT DO NOTHING RETURNING). */
export async function insertTierEvents(trx: Knex.Transaction | Db, events: readonly TierEventInsert[]): Promise<TierEventRow[]> {
  if (events.length === 0) return [];
  const rows = (await trx('budget_tier_events')
    .insert(events)
    .onConflict(['budget_id', 'period_start', 'key', 'tier'])
    .ignore()
    .returning('*')) as TierEventRow[];
  return rows.map((r) => ({ ...r, id: Number(r.id), budget_id: Number(r.budget_id) }));
}

export async function insertOutbox(trx: Knex.Transaction | Db, rows: readonly OutboxInsert[]): Promise<void> {
  if (rows.length === 0) return;
  await trx('notification_outbox')
    .insert(rows.map((r) => ({ ...r, payload: JSON.stringify(r.payload) })))
    .onConflict(['event_id', 'recipient'])
    .ignore();
}

const CONTACTS_SQL = `
select b.id, b.scope, b.scope_id, b.unit, b.currency, b.period,
  uc.id as uc_id, uc.name as uc_name, uc.owner_webhook_url as uc_owner_url, uc.owner_email as uc_owner_email,
  bu.id as bu_id, bu.name as bu_name, bu.owner_webhook_url as bu_owner_url, bu.owner_email as bu_owner_email,
  bu.finance_webhook_url as finance_url, bu.finance_email as finance_email
from budgets b
left join use_cases uc on b.scope in ('use_case', 'session') and uc.id = b.scope_id
left join agents ag on b.scope = 'agent' and ag.id = b.scope_id
left join business_units bu on bu.id = coalesce(uc.bu_id, ag.bu_id, case when b.scope = 'bu' then b.scope_id end)
where b.id = any(?::int4[])`;

type ContactsRow = {
  id: number; scope: BudgetScope; scope_id: string; unit: string; currency: string | null; period: BudgetPeriod;
  uc_id: string | null; uc_name: string | null; uc_owner_url: string | null; uc_owner_email: string | null;
  bu_id: string | null; bu_name: string | null; bu_owner_url: string | null; bu_owner_email: string | null;
  finance_url: string | null; finance_email: string | null;
};

export async function loadBudgetContacts(trx: Knex.Transaction | Db, budgetIds: readonly number[]): Promise<Map<number, BudgetContacts>> {
  const result = (await trx.raw(CONTACTS_SQL, [budgetIds as unknown as Knex.RawBinding])) as { rows: ContactsRow[] };
  return new Map(result.rows.map((r) => [Number(r.id), toContacts(r)]));
}

function toContacts(r: ContactsRow): BudgetContacts {
  const useCase = r.uc_id ? { id: r.uc_id, name: r.uc_name ?? r.uc_id } : null;
  return {
    id: Number(r.id), scope: r.scope, scope_id: r.scope_id, unit: r.unit, currency: r.currency, period: r.period,
    bu: r.bu_id ? { id: r.bu_id, name: r.bu_name ?? r.bu_id } : null,
    use_case: useCase,
    owner: r.scope === 'use_case'
      ? { url: r.uc_owner_url ?? null, email: r.uc_owner_email ?? null }
      : { url: r.bu_owner_url ?? null, email: r.bu_owner_email ?? null },
    finance: { url: r.finance_url ?? null, email: r.finance_email ?? null },
  };
}

// The claim is a lease: claimed rows get next_attempt_at = now() + lease and their attempt counted, then the
// transaction commits at once (no lock is held across the HTTP call, which PGlite's one connection could
// not afford). A replica that dies mid-delivery leaves its rows to be claimed again when the lease ends.
const CLAIM_SQL = `
update notification_outbox o
set next_attempt_at = now() + (? * interval '1 millisecond'), attempts = o.attempts + 1
where o.id in (
  select id from notification_outbox
  where status = 'pending' and next_attempt_at <= now()
  order by next_attempt_at, id
  limit ?
  for update skip locked
)
returning o.id, o.event_id, o.alert_id, o.recipient, o.target_url, o.payload, o.attempts`;

/** A due row of either kind: a tier event's (event_id) or an adjacency alert's (alert_id); the worker only POSTs the payload. */
export type ClaimedRow = {
  id: number; event_id: number | null; alert_id: number | null; recipient: OutboxRecipient; target_url: string; payload: NotificationPayload | object; attempts: number;
};

export async function claimDueNotifications(db: Db, opts: { limit: number; leaseMs: number }): Promise<ClaimedRow[]> {
  return db.transaction(async (trx) => {
    const result = (await trx.raw(CLAIM_SQL, [opts.leaseMs, opts.limit])) as { rows: ClaimedRow[] };
    return result.rows
      .map((r) => ({ ...r, id: Number(r.id), event_id: nullableId(r.event_id), alert_id: nullableId(r.alert_id), payload: parseJson(r.payload) }))
      .sort((a, b) => a.id - b.id);
  });
}

/**
 * The outcome of one claimed attempt. Guarded by `attempts`: if the lease ran out and another worker
 * claimed the row again, that worker's outcome is the one kept, not this late one.
 */
export async function markDelivered(db: Db, row: { id: number; attempts: number }, status: number): Promise<boolean> {
  const n = await db('notification_outbox')
    .where({ id: row.id, attempts: row.attempts, status: 'pending' })
    .update({ status: 'delivered', delivered_at: db.fn.now(), last_status: status, last_error: null });
  return n > 0;
}

export async function markAttemptFailed(
  db: Db,
  row: { id: number; attempts: number },
  outcome: { status: number | null; error: string; retryInMs: number | null },
): Promise<boolean> {
  const n = await db('notification_outbox')
    .where({ id: row.id, attempts: row.attempts, status: 'pending' })
    .update({
      last_status: outcome.status,
      last_error: outcome.error,
      ...(outcome.retryInMs === null
        ? { status: 'failed' }
        : { next_attempt_at: db.raw(`now() + (? * interval '1 millisecond')`, [outcome.retryInMs]) }),
    });
  return n > 0;
}

export type NotificationFilter = {
  status?: OutboxStatus;
  recipient?: Recipient;
  budgetId?: number;
  eventId?: number;
  tier?: Tier;
  /** Most recent first; 100 unless told. */
  limit?: number;
};

export type NotificationView = OutboxRow & {
  budget_id: number;
  tier: Tier;
  period_start: Date;
  key: string;
  request_id: string;
};

/** Delivery state of notifications with their event, newest first. */
export async function listNotifications(db: Db, filter: NotificationFilter = {}): Promise<NotificationView[]> {
  const q = db('notification_outbox as o')
    .join('budget_tier_events as e', 'e.id', 'o.event_id')
    .select('o.*', 'e.budget_id', 'e.tier', 'e.period_start', 'e.key', 'e.request_id')
    .orderBy([{ column: 'o.id', order: 'desc' }])
    .limit(filter.limit ?? 100);
  if (filter.status !== undefined) q.where('o.status', filter.status);
  if (filter.recipient !== undefined) q.where('o.recipient', filter.recipient);
  if (filter.budgetId !== undefined) q.where('e.budget_id', filter.budgetId);
  if (filter.eventId !== undefined) q.where('o.event_id', filter.eventId);
  if (filter.tier !== undefined) q.where('e.tier', filter.tier);
  const rows = (await q) as NotificationView[];
  return rows.map((r) => ({ ...r, id: Number(r.id), event_id: Number(r.event_id), budget_id: Number(r.budget_id), payload: parseJson(r.payload) }));
}

export type TierEventFilter = { budgetId?: number; periodStart?: Date | string; key?: string };

export async function listTierEvents(db: Db, filter: TierEventFilter = {}): Promise<TierEventRow[]> {
  const q = db('budget_tier_events').select('*').orderBy('id');
  if (filter.budgetId !== undefined) q.where('budget_id', filter.budgetId);
  if (filter.periodStart !== undefined) q.where('period_start', filter.periodStart);
  if (filter.key !== undefined) q.where('key', filter.key);
  const rows = (await q) as TierEventRow[];
  return rows.map((r) => ({ ...r, id: Number(r.id), budget_id: Number(r.budget_id) }));
}

/** An adjacency alert's webhook to the council, written in the run's transaction (delivery never blocks it). */
export type AlertOutboxInsert = {
  alert_id: number;
  target_url: string | null;
  email: string | null;
  payload: object;
};

export async function insertAlertOutbox(trx: Knex.Transaction | Db, rows: readonly AlertOutboxInsert[]): Promise<void> {
  if (rows.length === 0) return;
  await trx('notification_outbox')
    .insert(rows.map((r) => ({ ...r, recipient: 'council', status: r.target_url ? 'pending' : 'no_target', payload: JSON.stringify(r.payload) })))
    .onConflict(['alert_id', 'recipient'])
    .ignore();
}

export type AlertDelivery = Pick<OutboxRow, 'status' | 'attempts' | 'last_error' | 'last_status' | 'delivered_at' | 'created_at'> & {
  id: number; alert_id: number; recipient: OutboxRecipient; target_url: string | null; payload: object;
};

/** The council deliveries of these alerts, oldest first. */
export async function listAlertDeliveries(db: Knex.Transaction | Db, alertIds: readonly number[]): Promise<AlertDelivery[]> {
  if (alertIds.length === 0) return [];
  const rows = (await db('notification_outbox').whereIn('alert_id', alertIds)
    .select('id', 'alert_id', 'recipient', 'target_url', 'payload', 'status', 'attempts', 'last_error', 'last_status', 'delivered_at', 'created_at')
    .orderBy('id')) as AlertDelivery[];
  return rows.map((r) => ({ ...r, id: Number(r.id), alert_id: Number(r.alert_id), payload: parseJson(r.payload) }));
}

function nullableId(v: number | string | null): number | null {
  return v === null ? null : Number(v);
}

// pg parses jsonb; knex-pglite may hand it back as text.
function parseJson<T>(v: T | string): T {
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}
