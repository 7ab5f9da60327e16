import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TollgateError, type ErrorCode } from '../errors.js';
import { SignerCoolingDown } from './signer-guard.js';
import type { TagsFact } from '../policy/types.js';
import type { BodyShape } from '../providers/endpoint-spec.js';
import type { ProviderAdapter, UpstreamSigner } from '../providers/types.js';
import type { AllowedCall } from './call.js';
import { deny, gatewayDenial, refuseRateLimited } from './deny.js';
import { gatherFacts, servedWorstCase } from './facts.js';
import { readTags } from './tags.js';
import { recordTierCrossings } from './tiers.js';
import { recordInFlight } from './meter-call.js';
import { routeOf, type RoutedCall } from './route.js';
import type { ProviderName, ProviderSettings } from '../config.js';

declare module 'fastify' {
  interface FastifyRequest {
    tollgateCall?: AllowedCall;
  }
}

/**
 * The hot path before forwarding: check the request at the edge (method, endpoint, tags, body), authenticate,
 * gather facts (reserving the call's worst case against its budgets), ask the policy once. A denial is answered
 * here in the provider's error shape, logged, and its reservation given back; an allowed call is left on the
 * request for the forwarder, its body serialized once, before its in-flight record is journaled.
 */
export function decideHook(app: FastifyInstance, adapter: ProviderAdapter, signer: UpstreamSigner | null = null) {
  return async function decide(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const started = process.hrtime.bigint();
    const ts = new Date();
    const settings = app.tollgate.config.providers[adapter.name as ProviderName];
    const route = routeOf(adapter, request.url, settings);
    const endpoint = route.endpoint;
    const edge = checkEdge(request, adapter, route);
    if (!edge.ok) return deny(app, request, reply, { adapter, endpoint, ts, decision: gatewayDenial(edge.code, edge.message), tags: edge.tags, parentId: edge.parentId, revision: null });
    const { tags, parentId, body, shape } = edge;
    const foreign = adapter.refuseCredential?.(request.headers);
    if (foreign !== undefined) return deny(app, request, reply, { adapter, endpoint, ts, decision: gatewayDenial('invalid_credential', foreign), tags, parentId, revision: null, model: route.model });

    const identity = await app.tollgate.authenticate(request.headers, request.ip);
    if ('rateLimited' in identity) return refuseRateLimited(app, request, reply, adapter, identity.retryAfterS);
    // The policy sees the catalog model (an alias or dated snapshot resolves to it); the upstream gets what was sent.
    const sent = route.model ?? (typeof body.model === 'string' && body.model !== '' ? body.model : undefined);
    const model = sent === undefined ? undefined : app.tollgate.catalog.modelId(adapter.name, sent);
    const { input, reserved } = await gatherFacts(app, { request, adapter, endpoint, body, shape, ts }, tags, identity, model);
    const base = { adapter, endpoint, ts, tags, parentId, input, model: sent, reserved };

    let evaluation;
    try {
      evaluation = await app.tollgate.policy.evaluateSoon(input);
    } catch (err) {
      if (err instanceof TollgateError) return deny(app, request, reply, { ...base, decision: gatewayDenial(err.code), revision: null });
      throw err;
    }
    const { decision, revision, micros } = evaluation;
    app.tollgate.metrics.decisionSeconds.observe(micros / 1e6);
    reply.header('x-tollgate-budget-tier', decision.tier).header('x-tollgate-policy-revision', revision);
    recordTierCrossings(app, request.id, ts, input.budgets, decision);
    if (!decision.allowed) return deny(app, request, reply, { ...base, decision, revision });
    if (!isConfigured(settings, signer)) {
      return deny(app, request, reply, { ...base, decision: gatewayDenial('provider_not_configured'), revision });
    }

    const served = decision.model ?? model!;
    // The upstream gets the id the agent sent for the model it asked for, and the vendor's id for a model tollgate chose.
    const upstreamModel = served === model ? sent! : app.tollgate.catalog.upstreamId(served);
    const prepared = adapter.prepareBody(endpoint, body, upstreamModel);
    const clamp = decision.max_output_tokens;
    if (clamp !== null) prepared.body = adapter.clampOutput(endpoint, prepared.body, clamp);
    // Serialized here, once: a body that cannot be sent is refused before anything says it was forwarded.
    let bodyText: string;
    try {
      bodyText = JSON.stringify(prepared.body);
    } catch (err) {
      request.log.warn({ err }, 'the body could not be serialized for the provider');
      return deny(app, request, reply, { ...base, decision: gatewayDenial('invalid_request', 'invalid request: the body cannot be serialized'), revision });
    }
    const upstreamUrl = route.upstreamUrl?.(upstreamModel);
    let upstreamAuth: Record<string, string> | undefined;
    if (signer !== null) {
      try {
        upstreamAuth = await signer({ url: new URL(upstreamUrl ?? `${adapter.upstreamPrefix}${endpoint}`, settings.baseUrl), body: bodyText });
      } catch (err) {
        // Within a cool-down after a failure the source was not asked again: refused at once, told when to retry.
        const cooling = err instanceof SignerCoolingDown;
        if (!cooling) request.log.error({ err, provider: adapter.name }, 'tollgate could not sign the call with its credential for the provider');
        const retryAfter: Record<string, string> = cooling ? { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) } : {};
        return deny(app, request, reply, { ...base, decision: gatewayDenial('upstream_auth_failed', undefined, retryAfter), revision });
      }
    }
    if (clamp !== null) reply.header('x-tollgate-output-clamped', String(clamp));
    if (reserved) {
      const worst = servedWorstCase(app, input, served, clamp, ts);
      if (worst) app.tollgate.budgetGate.shrink(request.id, worst);
    }
    reply.header('x-tollgate-model-served', served);
    if (served !== model) reply.header('x-tollgate-model-requested', sent!);
    request.tollgateCall = {
      requestId: request.id,
      adapter,
      endpoint,
      ts,
      startedAt: started,
      tags: tags as AllowedCall['tags'],
      parentRequestId: parentId,
      reserved,
      decision,
      revision,
      modelRequested: sent!,
      modelServed: served,
      bodyText,
      ...(upstreamUrl !== undefined ? { upstreamUrl } : {}),
      ...(upstreamAuth !== undefined ? { upstreamAuth } : {}),
      requestBody: body,
      bodyBytes: request.bodyBytes,
      choices: shape.choices,
      outputLimit: clamp ?? shape.outputLimit,
      requestTools: adapter.requestTools(endpoint, body),
      injectedUsage: prepared.injectedUsage,
      estimatedInputTokens: adapter.isBilled(endpoint) ? input.estimate.input_tokens : 0,
      finished: false,
    };
    const { tracer } = app.tollgate;
    if (tracer !== null) request.tollgateCall.span = tracer.startCall(request.tollgateCall, request.headers);
    recordInFlight(app, request.tollgateCall);
    app.tollgate.metrics.calls.inc({ provider: adapter.name, code: decision.code, allowed: 'true' });
    app.tollgate.metrics.overheadSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  };
}

type EdgeCode = Extract<ErrorCode, 'method_not_allowed' | 'unsupported_endpoint' | 'invalid_request' | 'invalid_tag' | 'conflicting_tag'>;
type Edge =
  | { ok: true; tags: TagsFact; parentId: string | null; body: Record<string, unknown>; shape: BodyShape }
  | { ok: false; code: EdgeCode; message?: string; tags?: TagsFact; parentId?: string | null };

/** What is checked before anyone is authenticated or anything is looked up: the route, the tags, the body. */
function checkEdge(request: FastifyRequest, adapter: ProviderAdapter, route: RoutedCall): Edge {
  const read = readTags(request.raw);
  const claims = read.ok ? { tags: read.tags, parentId: read.parentId } : {};
  if (request.method !== 'POST') return { ok: false, code: 'method_not_allowed', ...claims };
  if (!route.known) return { ok: false, code: 'unsupported_endpoint', ...claims };
  if (route.problem !== undefined) return { ok: false, code: 'invalid_request', message: route.problem, ...claims };
  if (!read.ok) return { ok: false, code: read.code, message: read.message };
  const body = request.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, code: 'invalid_request', ...claims };
  const shape = adapter.readBody(route.endpoint, body as Record<string, unknown>);
  if (!shape.ok) return { ok: false, code: 'invalid_request', message: shape.message, ...claims };
  return { ok: true, tags: read.tags, parentId: read.parentId, body: body as Record<string, unknown>, shape };
}

/**
 * A vendor is configured when tollgate has its credential (a key, or a signer built from its settings) and, for
 * vendors without a public host (Azure), its base URL.
 */
function isConfigured(settings: ProviderSettings | undefined, signer: UpstreamSigner | null): boolean {
  return Boolean((settings?.apiKey || signer !== null) && settings?.baseUrl);
}

export function endpointOf(url: string, prefix: string): string {
  const path = url.split('?', 1)[0]!;
  return path.startsWith(prefix) ? path.slice(prefix.length) || '/' : path;
}
