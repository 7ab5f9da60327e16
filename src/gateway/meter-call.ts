import type { FastifyInstance } from 'fastify';
import type { UsageEvent } from '../metering/types.js';
import { costOf } from '../metering/pricing.js';
import { mergeToolNames } from '../providers/tools.js';
import type { AllowedCall, CallOutcome } from './call.js';

/** A call's usage event, priced at the price in force when the call was received. */
export function usageEventOf(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent {
  const price = app.tollgate.prices.book.priceAt(call.modelServed, call.ts);
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
    cost: price ? costOf(outcome.usage, price) : '0',
    currency: price?.currency ?? 'USD',
    price_id: price?.id ?? null,
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
export function recordInFlight(app: FastifyInstance, call: AllowedCall, estimatedInputTokens: number): void {
  const fallback = usageEventOf(app, call, {
    status: 0, partial: true, usage: { input_tokens: estimatedInputTokens, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 },
  });
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
  if (!priced) app.log.warn({ model: call.modelServed, request_id: call.requestId }, 'no price in force for the served model; metered at cost 0');
  return event;
}
