import type { FastifyInstance } from 'fastify';
import type { UsageEvent } from '../metering/types.js';
import { costOf } from '../metering/pricing.js';
import type { AllowedCall, CallOutcome } from './call.js';

/** Turns a finished call into its one usage event: priced at the price in force when it was received. */
export function meterCall(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent | undefined {
  if (call.finished) return undefined;
  call.finished = true;
  const { prices, meter, budgetGate, metrics } = app.tollgate;
  const price = prices.book.priceAt(call.modelServed, call.ts);
  const event: UsageEvent = {
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
  };
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
  if (!price) app.log.warn({ model: call.modelServed, request_id: call.requestId }, 'no price in force for the served model; metered at cost 0');
  return event;
}
