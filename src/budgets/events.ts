import type { Knex } from 'knex';
import type { Db } from '../db/knex.js';
import {
  insertOutbox, insertTierEvents, loadBudgetContacts,
  type BudgetContacts, type OutboxInsert, type TierEventInsert, type TierEventRow,
} from '../db/notifications.js';
import { notifyTierEvents } from '../db/tier-channel.js';
import { buildPayload, recipientsFor, TIERS, type Recipient, type Tier } from './payload.js';

/**
 * A budget crossed a tier on a call. When a call jumps several tiers at once, the gateway hands one
 * crossing per tier at or below the one reached: each is an event of its own (each has its meaning and
 * its recipients), and each is recorded once whichever replica or replay reports it.
 */
export type TierCrossing = {
  budget_id: number;
  /** ISO-8601 start of the budget period the crossing belongs to. */
  period_start: string;
  /** The session id for session budgets, '' otherwise. */
  key: string;
  tier: Tier;
  /** Decimal strings are kept exactly; numbers are accepted as the journal carries them. */
  ratio: number | string;
  spent: number | string;
  limit: number | string;
  unit: string;
  request_id: string;
  /** ISO-8601 time of the call that crossed. */
  ts: string;
};

/**
 * Records crossings not seen before and, in the same transaction, one outbox row per recipient of each.
 * Returns the events this call inserted (none for a crossing already recorded, by anyone).
 */
export async function recordTierEvents(trx: Knex.Transaction | Db, crossings: readonly TierCrossing[]): Promise<TierEventRow[]> {
  if (crossings.length === 0) return [];
  const contacts = await loadBudgetContacts(trx, [...new Set(crossings.map((c) => c.budget_id))]);
  // A budget deleted since the call crossed has no one left to tell; its crossing must not fail (and so
  // block) the metering batch it travels in.
  const known = crossings.filter((c) => contacts.has(c.budget_id));
  const inserted = await insertTierEvents(trx, orderedUnique(known.map(toInsert)));
  await insertOutbox(trx, inserted.flatMap((e) => outboxRows(e, contacts.get(e.budget_id))));
  // Delivered on commit to every replica's GraphQL subscribers (budgetTierEvents).
  await notifyTierEvents(trx, inserted, contacts);
  return inserted;
}

function toInsert(c: TierCrossing): TierEventInsert {
  if (!TIERS.includes(c.tier)) throw new TypeError(`unknown budget tier: ${JSON.stringify(c.tier)}`);
  return {
    budget_id: c.budget_id,
    period_start: new Date(c.period_start).toISOString(),
    key: c.key ?? '',
    tier: c.tier,
    ratio: String(c.ratio),
    spent: String(c.spent),
    limit_amount: String(c.limit),
    unit: c.unit,
    request_id: c.request_id,
    crossed_at: new Date(c.ts).toISOString(),
  };
}

// One row per unique key, in key order: concurrent writers then take the unique index's locks in the
// same order and cannot deadlock on each other's crossings.
function orderedUnique(rows: TierEventInsert[]): TierEventInsert[] {
  const byKey = new Map<string, TierEventInsert>();
  for (const r of rows) {
    const k = [String(r.budget_id).padStart(12, '0'), r.period_start, r.key, TIERS.indexOf(r.tier)].join('\u0000');
    if (!byKey.has(k)) byKey.set(k, r);
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

function outboxRows(e: TierEventRow, budget: BudgetContacts | undefined): OutboxInsert[] {
  return recipientsFor(e.tier).map((recipient) => {
    const target = contactOf(budget, recipient);
    return {
      event_id: e.id,
      recipient,
      target_url: target.url,
      email: target.email,
      payload: buildPayload({
        event_id: e.id,
        tier: e.tier,
        recipient,
        budget: {
          id: e.budget_id,
          scope: budget?.scope ?? 'use_case',
          scope_id: budget?.scope_id ?? '',
          unit: e.unit,
          currency: budget?.currency ?? null,
          limit: String(e.limit_amount),
          period: budget?.period ?? 'month',
          period_start: new Date(e.period_start).toISOString(),
        },
        key: e.key,
        spent: String(e.spent),
        ratio: String(e.ratio),
        bu: budget?.bu ?? null,
        use_case: budget?.use_case ?? null,
        request_id: e.request_id,
        at: new Date(e.crossed_at).toISOString(),
      }),
      status: target.url ? 'pending' : 'no_target',
    };
  });
}

function contactOf(budget: BudgetContacts | undefined, recipient: Recipient): { url: string | null; email: string | null } {
  return budget?.[recipient] ?? { url: null, email: null };
}
