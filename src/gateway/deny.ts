import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { DecisionRecord } from '../metering/types.js';
import type { Decision, PolicyInput, TagsFact } from '../policy/types.js';
import type { ProviderAdapter } from '../providers/types.js';
import { providerStatus, sendProviderError } from './respond.js';
import { claimedOf } from './tags.js';

/** Who a denial counts against: the decision log's bu_id, use_case_id, agent_id and session_id. */
export type Attribution = Pick<DecisionRecord, 'bu_id' | 'use_case_id' | 'agent_id' | 'session_id'>;

const NOBODY: Attribution = Object.freeze({ bu_id: null, use_case_id: null, agent_id: null, session_id: null });

/** Long paths are refused (unsupported_endpoint) but still logged: no more of one than this. */
const MAX_LOGGED_ENDPOINT = 256;

/**
 * Only an authenticated agent attributes a denial, and to what is its own: its id, its BU in the catalog (an
 * agent of BU X claiming BU Y is X's denial, so no caller can add to another BU's denials), the use case it
 * claimed when that use case is its BU's, and the session it claimed. Before authentication, or when it
 * failed, nothing is attributed; what the caller claimed is kept apart (decision_log.claimed).
 */
export function attributionOf(input: PolicyInput): Attribution {
  if (input.identity.authenticated !== true || !input.identity.agent_id) return NOBODY;
  const bu = input.catalog.agent?.bu_id ?? null;
  const useCase = input.catalog.use_case;
  return {
    agent_id: input.identity.agent_id,
    bu_id: bu,
    use_case_id: useCase !== null && bu !== null && useCase.bu_id === bu ? useCase.id : null,
    session_id: input.tags.session_id ?? null,
  };
}

/** A denial decided by the gateway rather than the policy (bad request, no policy, no provider key). */
export function gatewayDenial(code: ErrorCode, message: string = ERRORS[code].message, headers: Record<string, string> = {}): Decision {
  const def = ERRORS[code];
  return {
    allowed: false, http_status: def.status, code, message, tier: 'none', notify: [], model: null,
    max_output_tokens: null, budgets: [],
    headers: code === 'method_not_allowed' ? { allow: 'POST' } : headers, reasons: [{ code, message }],
  };
}

/**
 * `tags` and `parentId` as read at the edge (absent when they could not be read), `input` once the facts were
 * gathered (absent for a refusal made before authentication): what the record keeps and attributes.
 */
export type Denial = {
  adapter: ProviderAdapter; endpoint: string; ts: Date; decision: Decision; revision: string | null;
  tags?: TagsFact; parentId?: string | null; input?: PolicyInput; model?: string; reserved?: boolean;
};

/** Answers a denial in the provider's shape, gives back its reservation and writes it to the decision log. */
export function deny(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, d: Denial): FastifyReply {
  const { adapter, endpoint, ts, decision, revision, model } = d;
  if (d.reserved) app.tollgate.budgetGate.release(request.id);
  const record: DecisionRecord = {
    kind: 'decision',
    request_id: request.id,
    ts: ts.toISOString(),
    provider: adapter.name,
    endpoint: endpoint.length > MAX_LOGGED_ENDPOINT ? endpoint.slice(0, MAX_LOGGED_ENDPOINT) : endpoint,
    ...(d.input ? attributionOf(d.input) : NOBODY),
    claimed: d.tags ? claimedOf(d.tags, d.parentId ?? null) : null,
    model: model ?? null,
    allowed: false,
    // The status the agent got: a vendor may answer a code with its own (Bedrock's hard cap is a 400).
    http_status: providerStatus(adapter, { status: decision.http_status, code: decision.code, message: decision.message }).status,
    code: decision.code,
    message: decision.message,
    reasons: decision.reasons,
    policy_revision: revision,
    budget_tier: decision.tier,
  };
  try {
    app.tollgate.meter.record(record);
  } catch (err) {
    request.log.error({ err }, 'decision could not be journaled');
  }
  app.tollgate.tracer?.refused(adapter, request.headers, ts, record);
  app.tollgate.metrics.calls.inc({ provider: adapter.name, code: decision.code, allowed: 'false' });
  request.log.info({ code: decision.code, status: decision.http_status, endpoint: record.endpoint }, 'call denied');
  return sendProviderError(reply, adapter, { status: decision.http_status, code: decision.code, message: decision.message, headers: decision.headers });
}

/**
 * A source past its limit of failed authentications: refused at once, and not written to the decision log, so
 * that a flood from one address costs a map lookup and adds nothing to Postgres (the metric counts them; the
 * log says when an address reaches its limit).
 */
export function refuseRateLimited(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, adapter: ProviderAdapter, retryAfterS: number): FastifyReply {
  const code = 'auth_rate_limited';
  app.tollgate.metrics.calls.inc({ provider: adapter.name, code, allowed: 'false' });
  request.log.debug({ code, source: request.ip }, 'call refused: too many failed authentications from this address');
  return sendProviderError(reply, adapter, { status: ERRORS[code].status, code, message: ERRORS[code].message, headers: { 'retry-after': String(retryAfterS) } });
}
