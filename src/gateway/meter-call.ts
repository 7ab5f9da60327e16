import type { FastifyInstance } from 'fastify';
import type { UsageEvent } from '../metering/types.js';
import { costOf } from '../metering/pricing.js';
import { mergeToolNames } from '../providers/tools.js';
import { ZERO_USAGE, type NormalizedUsage } from '../providers/types.js';
import type { AllowedCall, CallOutcome, CallProgress } from './call.js';

/**
 * A call's usage event, priced at the price in force when the call was received, for the tier that served it.
 * A model with no price in force was allowed only because the policy's data lets its use case run on an
 * estimate: it is metered at the provider's highest prices in force and flagged (cost_estimated), never at 0.
 */
export function usageEventOf(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent {
  const { book } = app.tollgate.prices;
  const price = book.priceAt(call.modelServed, call.ts, outcome.usage.service_tier);
  const kinds = price ?? book.estimateAt(call.adapter.name, call.ts);
  const tools = mergeToolNames(call.requestTools, outcome.tools);
  return {
    kind: 'usage',
    request_id: call.requestId,
    ts: call.ts.toISOString(),
    bu_id: call.tags.bu,
    use_case_id: call.tags.use_case,
    agent_id: call.tags.agent_id,
    session_id: call.tags.session_id,
    parent_request_id: call.parentRequestId,
    provider: call.adapter.name,
    endpoint: call.endpoint,
    model_requested: call.modelRequested,
    model_served: call.modelServed,
    ...outcome.usage,
    cost: kinds ? costOf(outcome.usage, kinds) : '0',
    currency: kinds?.currency ?? 'USD',
    price_id: price?.id ?? null,
    ...(price === null ? { cost_estimated: true } : {}),
    status: outcome.status,
    partial: outcome.partial,
    latency_ms: Math.round(Number(process.hrtime.bigint() - call.startedAt) / 1e6),
    decision_code: call.decision.code,
    policy_revision: call.revision,
    budget_tier: call.decision.tier,
    ...(tools.length > 0 ? { tools } : {}),
  };
}

/**
 * Written to the journal before a call is forwarded: should this process die before the call reports
 * back, the call is still metered (partial, status 0, its estimated prompt, the tools it declared) once its
 * lease runs out.
 */
export function recordInFlight(app: FastifyInstance, call: AllowedCall): void {
  const fallback = usageEventOf(app, call, { status: 0, partial: true, usage: usageToMeter(call, { usage: ZERO_USAGE, complete: false }) });
  const expiresAt = new Date(call.ts.getTime() + app.tollgate.config.reservationTtlMs).toISOString();
  try {
    app.tollgate.meter.record({ kind: 'inflight', request_id: call.requestId, ts: fallback.ts, expires_at: expiresAt, fallback: { ...fallback, latency_ms: 0 } });
  } catch (err) {
    app.log.error({ err, request_id: call.requestId }, 'in-flight record could not be journaled');
  }
}

/** Turns a finished call into its one usage event. */
export function meterCall(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent | undefined {
  if (call.finished) return undefined;
  call.finished = true;
  const { meter, budgetGate, metrics } = app.tollgate;
  const event = usageEventOf(app, call, outcome);
  const priced = event.price_id !== null;
  try {
    meter.record(event);
  } catch (err) {
    // The call was served; losing its event is the worst outcome here, so say so loudly.
    app.log.error({ err, request_id: call.requestId }, 'usage event could not be journaled');
    return undefined;
  }
  budgetGate.metered(event);
  for (const kind of ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens'] as const) {
    if (event[kind] > 0) metrics.tokens.inc({ provider: event.provider, model: event.model_served, kind: kind.replace('_tokens', '') }, event[kind]);
  }
  metrics.cost.inc({ provider: event.provider, model: event.model_served, currency: event.currency }, Number(event.cost));
  if (!priced) app.log.warn({ model: call.modelServed, request_id: call.requestId, cost: event.cost }, 'no price in force for the served model; metered at an estimate, flagged');
  return event;
}

/**
 * What to meter for a call: a whole answer, and an error answer (`upstreamStatus` ≥ 400, not billed), as
 * reported. One that ended before the provider's usage report (a stream cut or left by its client, an answer
 * that never came, a gateway that died mid-call) with what was reported so far, the prompt at tollgate's
 * estimate when none was reported, and at least one output token per output delta sent: the provider bills
 * at least that much, and metering zero would let a client that drops its streams spend without limit.
 */
export function usageToMeter(call: AllowedCall, progress: CallProgress, upstreamStatus?: number): NormalizedUsage {
  const u = progress.usage;
  if (progress.complete || (upstreamStatus ?? 0) >= 400) return u;
  const prompt = u.input_tokens + u.cached_input_tokens + u.cache_write_tokens;
  return {
    ...u,
    input_tokens: prompt === 0 ? call.estimatedInputTokens : u.input_tokens,
    output_tokens: Math.max(u.output_tokens, progress.deltas ?? 0),
  };
}
