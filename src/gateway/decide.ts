import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError, ERRORS, type ErrorCode } from '../errors.js';
import type { DecisionRecord } from '../metering/types.js';
import type { Decision, TagsFact } from '../policy/types.js';
import type { ProviderAdapter } from '../providers/types.js';
import type { AllowedCall } from './call.js';
import { gatherFacts, servedWorstCase } from './facts.js';
import { sendProviderError } from './respond.js';
import { readParentId, readTags } from './tags.js';
import { recordTierCrossings } from './tiers.js';
import { recordInFlight } from './meter-call.js';

declare module 'fastify' {
  interface FastifyRequest {
    tollgateCall?: AllowedCall;
  }
}

/**
 * The hot path before forwarding: authenticate, read tags, gather facts (reserving the call's worst case
 * against its budgets), ask the policy once. A denial is answered here in the provider's error shape,
 * logged, and its reservation given back; an allowed call is left on the request for the forwarder.
 */
export function decideHook(app: FastifyInstance, adapter: ProviderAdapter) {
  return async function decide(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = process.hrtime.bigint();
    const ts = new Date();
    const endpoint = endpointOf(request.url, adapter.prefix);
    const gate = gatewayCheck(request, adapter, endpoint);
    if (gate) return deny(app, request, reply, { adapter, endpoint, ts, decision: gatewayDenial(gate), tags: readTags(request.headers), revision: null });

    const body = request.body as Record<string, unknown>;
    const tags = readTags(request.headers);
    const identity = await app.tollgate.authenticate(request.headers);
    const model = typeof body.model === 'string' && body.model !== '' ? body.model : undefined;
    const { input, reserved } = await gatherFacts(app, { request, adapter, endpoint, body, ts }, tags, identity, model);
    const base = { adapter, endpoint, ts, tags, model, reserved };

    let evaluation;
    try {
      evaluation = app.tollgate.policy.evaluate(input);
    } catch (err) {
      if (err instanceof TollgateError) return deny(app, request, reply, { ...base, decision: gatewayDenial(err.code), revision: null });
      throw err;
    }
    const { decision, revision, micros } = evaluation;
    app.tollgate.metrics.decisionSeconds.observe(micros / 1e6);
    reply.header('x-tollgate-budget-tier', decision.tier).header('x-tollgate-policy-revision', revision);
    recordTierCrossings(app, request.id, ts, input.budgets, decision);
    if (!decision.allowed) return deny(app, request, reply, { ...base, decision, revision });
    if (!app.tollgate.config.providers[adapter.name as 'openai' | 'anthropic']?.apiKey) {
      return deny(app, request, reply, { ...base, decision: gatewayDenial('provider_not_configured'), revision });
    }

    const served = decision.model ?? model!;
    const prepared = adapter.prepareBody(endpoint, body, served);
    if (decision.max_output_tokens !== null) {
      prepared.body = adapter.clampOutput(endpoint, prepared.body, decision.max_output_tokens);
      reply.header('x-tollgate-output-clamped', String(decision.max_output_tokens));
    }
    if (reserved) {
      const worst = servedWorstCase(app, input, served, decision.max_output_tokens, ts);
      if (worst) app.tollgate.budgetGate.shrink(request.id, worst);
    }
    reply.header('x-tollgate-model-served', served);
    if (served !== model) reply.header('x-tollgate-model-requested', model!);
    request.tollgateCall = {
      requestId: request.id,
      adapter,
      endpoint,
      ts,
      startedAt: started,
      tags: tags as AllowedCall['tags'],
      parentRequestId: readParentId(request.headers),
      reserved,
      decision,
      revision,
      modelRequested: model!,
      modelServed: served,
      body: prepared.body,
      requestTools: adapter.requestTools(endpoint, body),
      injectedUsage: prepared.injectedUsage,
      estimatedInputTokens: adapter.isBilled(endpoint) ? input.estimate.input_tokens : 0,
      bodyBytes: bodyBytesOf(request, body),
      choices: adapter.choices(endpoint, prepared.body),
      outputLimit: adapter.outputLimit(endpoint, prepared.body),
      finished: false,
    };
    recordInFlight(app, request.tollgateCall);
    app.tollgate.metrics.calls.inc({ provider: adapter.name, code: decision.code, allowed: 'true' });
    app.tollgate.metrics.overheadSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  };
}

/**
 * Provisional, until the edge counts the bytes it received: content-length, or, for a chunked body, the size of
 * the parsed body as JSON (a body too deep to serialize bounds nothing: it fails when forwarded anyway).
 */
function bodyBytesOf(request: FastifyRequest, body: Record<string, unknown>): number {
  const declared = request.headers['content-length'];
  if (declared !== undefined) return Number(declared);
  try {
    return Buffer.byteLength(JSON.stringify(body));
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

type GateCode = Extract<ErrorCode, 'method_not_allowed' | 'unsupported_endpoint' | 'invalid_request'>;

function gatewayCheck(request: FastifyRequest, adapter: ProviderAdapter, endpoint: string): GateCode | undefined {
  if (request.method !== 'POST') return 'method_not_allowed';
  if (!adapter.endpoints.includes(endpoint)) return 'unsupported_endpoint';
  const body = request.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'invalid_request';
  return undefined;
}

/** A denial decided by the gateway before the policy could run (bad request, no policy, no provider key). */
export function gatewayDenial(code: ErrorCode, message: string = ERRORS[code].message): Decision {
  const def = ERRORS[code];
  return {
    allowed: false, http_status: def.status, code, message, tier: 'none', notify: [], model: null,
    max_output_tokens: null, budgets: [],
    headers: code === 'method_not_allowed' ? { allow: 'POST' } : {}, reasons: [{ code, message }],
  };
}

export function endpointOf(url: string, prefix: string): string {
  const path = url.split('?', 1)[0]!;
  return path.startsWith(prefix) ? path.slice(prefix.length) || '/' : path;
}

type Denial = {
  adapter: ProviderAdapter; endpoint: string; ts: Date; decision: Decision; tags: TagsFact; revision: string | null;
  model?: string; reserved?: boolean;
};

/** Answers a denial in the provider's shape, gives back its reservation and writes it to the decision log. */
export function deny(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, d: Denial): FastifyReply {
  const { adapter, endpoint, ts, decision, tags, revision, model } = d;
  if (d.reserved) app.tollgate.budgetGate.release(request.id);
  const record: DecisionRecord = {
    kind: 'decision',
    request_id: request.id,
    ts: ts.toISOString(),
    provider: adapter.name,
    endpoint,
    bu_id: tags.bu ?? null,
    use_case_id: tags.use_case ?? null,
    agent_id: tags.agent_id ?? null,
    session_id: tags.session_id ?? null,
    model: model ?? null,
    allowed: false,
    http_status: decision.http_status,
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
  app.tollgate.metrics.calls.inc({ provider: adapter.name, code: decision.code, allowed: 'false' });
  request.log.info({ code: decision.code, status: decision.http_status, endpoint }, 'call denied');
  return sendProviderError(reply, adapter, { status: decision.http_status, code: decision.code, message: decision.message, headers: decision.headers });
}
