import { authorize, scopeFor } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';
import { agentOf, buOf, useCaseOf } from './catalog.js';

/** The decision log, newest first, paged by an opaque cursor over (ts, id). */

export const MAX_PAGE_SIZE = 500;

type DecisionFilter = { code?: string | null; bu?: string | null; useCase?: string | null; agent?: string | null; from?: Date | null; to?: Date | null };
type DecisionRow = { id: string; ts_key: string; request_id: string; ts: Date; provider: string; endpoint: string; bu_id: string | null; use_case_id: string | null; agent_id: string | null; session_id: string | null; model: string | null; http_status: number; code: string; message: string; reasons: unknown; policy_revision: string | null; budget_tier: string };

// ts as Postgres prints it keeps the microseconds a JS Date would drop.
export function encodeCursor(tsKey: string, id: string): string {
  return Buffer.from(JSON.stringify([tsKey, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && /^\d+$/.test(String(v[1])) && !Number.isNaN(Date.parse(v[0]))) return [v[0], String(v[1])];
  } catch {
    // fall through
  }
  throw new AnalyticsError('BAD_USER_INPUT', 'after is not a cursor this API returned');
}

async function decisions(_: unknown, args: { filter?: DecisionFilter | null; first: number; after?: string | null }, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'decisions');
  if (args.first > MAX_PAGE_SIZE) throw new AnalyticsError('PAGE_SIZE_EXCEEDED', `first is capped at ${MAX_PAGE_SIZE}`, { max: MAX_PAGE_SIZE });
  if (args.first < 1) throw new AnalyticsError('BAD_USER_INPUT', 'first must be at least 1');
  const f = args.filter ?? {};
  const scope = scopeFor(caller, f.bu);
  const after = args.after ? decodeCursor(args.after) : null;
  const rows = await withTimeout(ctx, () => {
    const q = ctx.db('decision_log')
      .select('id', ctx.db.raw('ts::text as ts_key'), 'request_id', 'ts', 'provider', 'endpoint', 'bu_id', 'use_case_id', 'agent_id', 'session_id', 'model', 'http_status', 'code', 'message', 'reasons', 'policy_revision', 'budget_tier')
      .orderBy([{ column: 'ts', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(args.first + 1);
    if (scope.buId !== undefined) q.where('bu_id', scope.buId);
    if (f.code != null) q.where('code', f.code);
    if (f.useCase != null) q.where('use_case_id', f.useCase);
    if (f.agent != null) q.where('agent_id', f.agent);
    if (f.from != null) q.where('ts', '>=', f.from);
    if (f.to != null) q.where('ts', '<', f.to);
    if (after) q.whereRaw('(ts, id) < (?::timestamptz, ?::int8)', after);
    return q as unknown as Promise<DecisionRow[]>;
  });
  const page = rows.slice(0, args.first);
  const edges = page.map((r) => ({ cursor: encodeCursor(r.ts_key, String(r.id)), node: r }));
  return { edges, nodes: page, pageInfo: { hasNextPage: rows.length > args.first, endCursor: edges.at(-1)?.cursor ?? null } };
}

export const decisionResolvers = {
  Query: { decisions },
  Decision: {
    id: (d: DecisionRow) => String(d.id),
    requestId: (d: DecisionRow) => d.request_id,
    buId: (d: DecisionRow) => d.bu_id,
    useCaseId: (d: DecisionRow) => d.use_case_id,
    agentId: (d: DecisionRow) => d.agent_id,
    sessionId: (d: DecisionRow) => d.session_id,
    httpStatus: (d: DecisionRow) => d.http_status,
    policyRevision: (d: DecisionRow) => d.policy_revision,
    budgetTier: (d: DecisionRow) => d.budget_tier,
  },
};

export const decisionLoaders = {
  Decision: {
    bu: buOf<DecisionRow>((d) => d.bu_id),
    useCase: useCaseOf<DecisionRow>((d) => d.use_case_id),
    agent: agentOf<DecisionRow>((d) => d.agent_id),
  },
};
