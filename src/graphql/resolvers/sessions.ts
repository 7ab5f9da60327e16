import { buildSessionTree, flattenTree, tokensOf, type SessionNode, type SessionTree } from '../../analytics/sessions.js';
import { resolvePeriod, ChargebackInputError } from '../../analytics/chargeback.js';
import { sessionCalls, topSessions, type SessionSummary } from '../../db/sessions.js';
import { authorize, ownBu } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';

/**
 * Sessions identify agents and single calls, so they need the 'agents' capability (not the council's).
 * A BU owner sees its BU's calls of a session only (filtered in the query); a call whose parent is in
 * another BU shows as a root with the note PARENT_NOT_IN_SESSION.
 */

export const MAX_TOP_SESSIONS = 100;

async function session(_: unknown, args: { id: string }, ctx: GqlContext): Promise<SessionTree | null> {
  const caller = authorize(ctx.caller, 'agents');
  const calls = await withTimeout(ctx, () => sessionCalls(ctx.db, args.id, { buId: ownBu(caller) }));
  return calls.length === 0 ? null : buildSessionTree(args.id, calls);
}

async function topSessionsResolver(_: unknown, args: { period?: string | null; from?: Date | null; to?: Date | null; limit: number }, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'agents');
  if (args.limit > MAX_TOP_SESSIONS) throw new AnalyticsError('PAGE_SIZE_EXCEEDED', `limit is capped at ${MAX_TOP_SESSIONS}`, { max: MAX_TOP_SESSIONS });
  if (args.limit < 1) throw new AnalyticsError('BAD_USER_INPUT', 'limit must be at least 1');
  let period;
  try {
    period = resolvePeriod(args);
  } catch (err) {
    if (err instanceof ChargebackInputError) throw new AnalyticsError('BAD_USER_INPUT', err.message);
    throw err;
  }
  return withTimeout(ctx, () => topSessions(ctx.db, period, args.limit, { buId: ownBu(caller) }));
}

export const sessionResolvers = {
  Query: { session, topSessions: topSessionsResolver },
  Session: {
    id: (s: SessionTree) => s.sessionId,
    calls: (s: SessionTree) => flattenTree(s.roots),
    roots: (s: SessionTree) => s.roots.map((r) => r.call.request_id),
  },
  SessionCall: {
    requestId: (n: SessionNode) => n.call.request_id,
    parentRequestId: (n: SessionNode) => n.call.parent_request_id,
    ts: (n: SessionNode) => n.call.ts,
    buId: (n: SessionNode) => n.call.bu_id,
    useCaseId: (n: SessionNode) => n.call.use_case_id,
    agentId: (n: SessionNode) => n.call.agent_id,
    model: (n: SessionNode) => n.call.model_served,
    tokens: (n: SessionNode) => tokensOf(n.call),
    cost: (n: SessionNode) => n.call.cost,
    children: (n: SessionNode) => n.children.map((c) => c.call.request_id),
  },
  SessionSummary: {
    id: (s: SessionSummary) => s.session_id,
    businessUnits: (s: SessionSummary) => s.business_units,
    startedAt: (s: SessionSummary) => s.started_at,
    endedAt: (s: SessionSummary) => s.ended_at,
  },
};
export const sessionLoaders = {};
