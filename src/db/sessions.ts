import type { SessionCall } from '../analytics/sessions.js';
import { toMoney } from '../metering/money.js';
import type { Db } from './knex.js';

/**
 * Sessions straight from the ledger. One session is an index range on (session_id, ts). The most expensive
 * sessions of a period group the period's rows through the (ts) index: bounded by the period, it needs no
 * rollup of its own (a session rollup would have to be re-keyed by every late call of a long session).
 * `buId` restricts to one BU's calls inside the query, for BU-scoped readers.
 */

export type SessionScope = { buId?: string };

const CALL_COLUMNS = [
  'request_id', 'parent_request_id', 'ts', 'bu_id', 'use_case_id', 'agent_id', 'model_served',
  'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens',
] as const;

// A session is a conversation, not a data set; past this many calls the tree would not be read anyway.
export const MAX_SESSION_CALLS = 10_000;

export async function sessionCalls(db: Db, sessionId: string, scope: SessionScope = {}): Promise<SessionCall[]> {
  const q = db('usage_events').select(...CALL_COLUMNS, db.raw('cost::text as cost')).where('session_id', sessionId).orderBy(['ts', 'request_id']).limit(MAX_SESSION_CALLS);
  if (scope.buId !== undefined) q.where('bu_id', scope.buId);
  const rows = (await q) as SessionCall[];
  return rows.map((r) => ({ ...r, cost: toMoney(r.cost) }));
}

export type SessionSummary = {
  session_id: string;
  calls: number;
  tokens: number;
  cost: string;
  agents: number;
  business_units: number;
  started_at: Date;
  ended_at: Date;
};

/** Sessions with calls in [from, to), most expensive first (ties by id); cost and calls count that window only. */
export async function topSessions(db: Db, period: { from: Date; to: Date }, limit: number, scope: SessionScope = {}): Promise<SessionSummary[]> {
  const q = db('usage_events')
    .select(
      'session_id',
      db.raw('count(*)::int8 as calls'),
      db.raw('sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens)::int8 as tokens'),
      db.raw('sum(cost)::numeric(38, 12)::text as cost'),
      db.raw('count(distinct agent_id)::int as agents'),
      db.raw('count(distinct bu_id)::int as business_units'),
      db.raw('min(ts) as started_at'),
      db.raw('max(ts) as ended_at'),
    )
    .where('ts', '>=', period.from)
    .andWhere('ts', '<', period.to)
    .groupBy('session_id')
    .orderByRaw('sum(cost) desc, session_id')
    .limit(limit);
  if (scope.buId !== undefined) q.where('bu_id', scope.buId);
  const rows = (await q) as SessionSummary[];
  return rows.map((r) => ({ ...r, calls: Number(r.calls), tokens: Number(r.tokens), cost: toMoney(r.cost) }));
}
