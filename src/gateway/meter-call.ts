import type { FastifyInstance } from 'fastify';
import { boundOf, overBound } from '../metering/bound.js';
import type { UsageEvent, UsageReview } from '../metering/types.js';
import { costOf, type PriceKinds } from '../metering/pricing.js';
import { mergeToolNames } from '../providers/tools.js';
import { ZERO_USAGE, type NormalizedUsage } from '../providers/types.js';
import type { AllowedCall, CallOutcome, CallProgress } from './call.js';

/**
 * A call's usage event, priced at the price in force when the call was received, for the tier that served it,
 * and billed up to its bound. A model with no price in force was allowed only because the policy's data lets its
 * use case run on an estimate: it is metered at the provider's highest prices in force and flagged
 * (cost_estimated), never at 0.
 */
export function usageEventOf(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent {
  const { book } = app.tollgate.prices;
  const price = book.priceAt(call.modelServed, call.ts, outcome.usage.service_tier);
  const kinds = price ?? book.estimateAt(call.adapter.name, call.ts);
  const tools = mergeToolNames(call.requestTools, outcome.tools);
  const { usage, flags, review } = billable(app, call, outcome, kinds);
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
    ...usage,
    cost: kinds ? costOf(usage, kinds) : '0',
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
    ...(flags !== undefined && flags.length > 0 ? { flags } : {}),
    ...(review !== undefined ? { review } : {}),
  };
}

/**
 * The outcome to bill: as reported (the outcome itself), up to what the call could have used
 * (src/metering/bound.ts). Past it, the call is billed at the bound and flagged, and what was reported goes to the
 * review queue instead of the budget; so does a usage report that was not taken (not token counts).
 */
function billable(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome, price: PriceKinds | null): CallOutcome & { review?: UsageReview } {
  const limits = app.tollgate.config.bound;
  const over = overBound(outcome.usage, call, limits);
  if (over !== null) {
    const reported_cost = price ? costOf(outcome.usage, price) : null;
    const review: UsageReview = { reason: 'over_bound', reported: { ...outcome.usage }, reported_cost, bound: over.bound };
    return { ...outcome, usage: over.billed, flags: [...(outcome.flags ?? []), 'over_bound'], review };
  }
  if (outcome.invalidUsage === undefined) return outcome;
  return { ...outcome, review: { reason: 'usage_invalid', reported: outcome.invalidUsage, reported_cost: null, bound: boundOf(call, limits) } };
}

/**
 * Written to the journal before a call is forwarded: should this process die before the call reports
 * back, the call is still metered (partial, status 0, its estimated prompt, the tools it declared) once its
 * lease runs out.
 */
export function recordInFlight(app: FastifyInstance, call: AllowedCall): void {
  const fallback = usageEventOf(app, call, { status: 0, partial: true, usage: usageToMeter(call, { usage: ZERO_USAGE, complete: false }), flags: ['fallback'] });
  const expiresAt = new Date(call.ts.getTime() + app.tollgate.config.reservationTtlMs).toISOString();
  app.tollgate.liveCalls.add(call.requestId);
  try {
    app.tollgate.meter.record({ kind: 'inflight', request_id: call.requestId, ts: fallback.ts, expires_at: expiresAt, fallback: { ...fallback, latency_ms: 0 } });
  } catch (err) {
    app.log.error({ err, request_id: call.requestId }, 'in-flight record could not be journaled');
  }
}

/**
 * Meters a call from its answer as far as `read` (which reads it) got. It runs in stream and socket listeners,
 * where an exception would end the process with every call in flight: it never throws. Should reading the
 * answer fail, the call is metered from tollgate's estimate, flagged.
 */
export function meterAnswer(app: FastifyInstance, call: AllowedCall, status: number, read: () => CallOutcome): void {
  // Whatever ends a call first meters it (its last event, its end, its client leaving): the others read nothing.
  if (call.finished) return;
  let outcome: CallOutcome;
  try {
    outcome = read();
  } catch (err) {
    app.log.error({ err, request_id: call.requestId }, 'metering: reading the answer failed; the call is metered from the estimate');
    outcome = estimatedOutcome(call, status);
  }
  meterCall(app, call, outcome);
}

/**
 * A call's outcome from its answer's progress. A usage report that held something other than token counts is
 * not taken, and an answer too large to hold whose usage was not in its last bytes has none: either way the call
 * is metered as if the provider had reported none (usageToMeter: the prompt at the estimate, never 0), flagged.
 */
export function outcomeOf(call: AllowedCall, status: number, progress: CallProgress, partial: boolean): CallOutcome {
  const invalidUsage = progress.invalidUsage;
  const outcome: CallOutcome = { status, usage: usageToMeter(call, progress, status), tools: progress.tools, partial, model: progress.model };
  if (progress.unread === true && status < 400) return { ...outcome, flags: ['usage_unread'] };
  return invalidUsage === undefined ? outcome : { ...outcome, flags: ['usage_invalid'], invalidUsage };
}

/** Turns a finished call into its one usage event. Never throws (see meterAnswer). */
export function meterCall(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent | undefined {
  if (call.finished) return undefined;
  call.finished = true;
  app.tollgate.liveCalls.remove(call.requestId);
  const event = safeUsageEvent(app, call, outcome);
  call.span?.end(outcome, event);
  if (event === undefined) return undefined;
  try {
    app.tollgate.meter.record(event);
  } catch (err) {
    // The call was served; losing its event is the worst outcome here, so say so loudly.
    app.log.error({ err, request_id: call.requestId }, 'usage event could not be journaled');
    return undefined;
  }
  try {
    countMetered(app, event);
  } catch (err) {
    app.log.error({ err, request_id: call.requestId }, 'metering: counting a metered call failed');
  }
  return event;
}

function safeUsageEvent(app: FastifyInstance, call: AllowedCall, outcome: CallOutcome): UsageEvent | undefined {
  try {
    return usageEventOf(app, call, outcome);
  } catch (err) {
    app.log.error({ err, request_id: call.requestId }, 'metering: the call\'s usage could not be priced; it is metered from the estimate');
  }
  try {
    return usageEventOf(app, call, estimatedOutcome(call, outcome.status));
  } catch (err) {
    app.log.error({ err, request_id: call.requestId }, 'metering: the call could not be metered at all');
    return undefined;
  }
}

/** As if the provider had reported nothing: the prompt at the reservation's estimate, flagged. */
function estimatedOutcome(call: AllowedCall, status: number): CallOutcome {
  return { status, partial: false, usage: { ...ZERO_USAGE, input_tokens: call.estimatedInputTokens }, flags: ['metering_failed'] };
}

function countMetered(app: FastifyInstance, event: UsageEvent): void {
  const { budgetGate, metrics } = app.tollgate;
  budgetGate.metered(event);
  for (const kind of ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens'] as const) {
    if (event[kind] > 0) metrics.tokens.inc({ provider: event.provider, model: event.model_served, kind: kind.replace('_tokens', '') }, event[kind]);
  }
  metrics.cost.inc({ provider: event.provider, model: event.model_served, currency: event.currency }, Number(event.cost));
  if (event.flags !== undefined) {
    for (const flag of event.flags) metrics.flagged.inc({ provider: event.provider, flag });
    app.log.warn(
      { request_id: event.request_id, provider: event.provider, model: event.model_served, flags: event.flags, reported: event.review?.reported, bound: event.review?.bound },
      'metering: the call was not billed as its provider reported (see the review queue)',
    );
  }
  if (event.cost_estimated === true) app.log.warn({ model: event.model_served, request_id: event.request_id, cost: event.cost }, 'no price in force for the served model; metered at an estimate, flagged');
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
  if ((progress.complete && progress.invalidUsage === undefined) || (upstreamStatus ?? 0) >= 400) return u;
  const prompt = u.input_tokens + u.cached_input_tokens + u.cache_write_tokens;
  return {
    ...u,
    input_tokens: prompt === 0 ? call.estimatedInputTokens : u.input_tokens,
    output_tokens: Math.max(u.output_tokens, progress.deltas ?? 0),
  };
}
