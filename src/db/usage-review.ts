import type { Knex } from 'knex';
import type { UsageEvent, UsageReview } from '../metering/types.js';
import type { Db } from './knex.js';

/** The review queue (migration 020c): what providers reported for calls not billed as reported. */

export type ReviewRow = {
  request_id: string; ts: Date; bu_id: string; use_case_id: string; agent_id: string; provider: string; endpoint: string;
  model_served: string; reason: UsageReview['reason']; reported: Record<string, unknown>; reported_cost: string | null;
  bound_input_tokens: number; bound_output_tokens: number; recorded_at: Date;
  /** The ledger row's cost and flags (null when the row is not there). */
  billed_cost: string | null; flags: string[] | null;
};

export type ReviewFilter = { buId?: string; reason?: UsageReview['reason']; from?: Date; to?: Date; limit: number };

/** In the transaction that writes the events' ledger rows; a replayed event adds nothing. */
export async function insertReviews(trx: Db | Knex.Transaction, events: readonly (UsageEvent & { review: UsageReview })[]): Promise<void> {
  if (events.length === 0) return;
  await trx('usage_review')
    .insert(events.map((e) => ({
      request_id: e.request_id, ts: e.ts, bu_id: e.bu_id, use_case_id: e.use_case_id, agent_id: e.agent_id, provider: e.provider,
      endpoint: e.endpoint, model_served: e.model_served, reason: e.review.reason, reported: JSON.stringify(e.review.reported),
      reported_cost: e.review.reported_cost, bound_input_tokens: e.review.bound.input_tokens, bound_output_tokens: e.review.bound.output_tokens,
    })))
    .onConflict('request_id')
    .ignore();
}

/** Newest calls first, with what the ledger billed for each. */
export async function listReviews(db: Db, f: ReviewFilter): Promise<ReviewRow[]> {
  const q = db('usage_review as r')
    .leftJoin('usage_events as u', 'u.request_id', 'r.request_id')
    .select('r.*', 'u.cost as billed_cost', 'u.flags')
    .orderBy([{ column: 'r.ts', order: 'desc' }, { column: 'r.request_id', order: 'desc' }])
    .limit(f.limit);
  if (f.buId !== undefined) q.where('r.bu_id', f.buId);
  if (f.reason !== undefined) q.where('r.reason', f.reason);
  if (f.from !== undefined) q.where('r.ts', '>=', f.from);
  if (f.to !== undefined) q.where('r.ts', '<', f.to);
  const rows = (await q) as ReviewRow[];
  return rows.map((r) => ({ ...r, reported_cost: r.reported_cost === null ? null : String(r.reported_cost), billed_cost: r.billed_cost === null ? null : String(r.billed_cost) }));
}
