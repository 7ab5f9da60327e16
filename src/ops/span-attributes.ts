import type { AllowedCall, CallOutcome } from '../gateway/call.js';
import type { DecisionRecord, UsageEvent } from '../metering/types.js';
import type { ProviderAdapter } from '../providers/types.js';

/**
 * What a call's span says, as plain data: OpenTelemetry's GenAI conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/) plus tollgate's own `tollgate.*`. Kept apart
 * from the SDK so that it is tested without it and the SDK stays unloaded when traces are off.
 */
export type SpanAttributes = Record<string, string | number | boolean | string[]>;

/** A span's name per the conventions: `{operation} {model}`; the provider alone for an endpoint tollgate does not serve. */
export function spanName(adapter: ProviderAdapter, endpoint: string, model: string | null | undefined): string {
  const operation = adapter.operations[endpoint];
  if (operation === undefined) return adapter.name;
  return model ? `${operation} ${model}` : operation;
}

/** What is known of an allowed call when it is forwarded. */
export function allowedCallAttributes(call: AllowedCall): SpanAttributes {
  const a: SpanAttributes = {
    ...providerAttributes(call.adapter, call.endpoint),
    'gen_ai.request.model': call.modelRequested,
    'gen_ai.conversation.id': call.tags.session_id,
    'tollgate.request_id': call.requestId,
    'tollgate.bu': call.tags.bu,
    'tollgate.use_case': call.tags.use_case,
    'tollgate.agent_id': call.tags.agent_id,
    'tollgate.session_id': call.tags.session_id,
    'tollgate.decision_code': call.decision.code,
    'tollgate.budget_tier': call.decision.tier,
    'tollgate.policy_revision': call.revision,
    'tollgate.model_served': call.modelServed,
  };
  if (call.outputLimit !== null && call.outputLimit > 0) a['gen_ai.request.max_tokens'] = call.outputLimit;
  if (call.choices > 1) a['gen_ai.request.choice.count'] = call.choices;
  if (call.parentRequestId !== null) a['tollgate.parent_request_id'] = call.parentRequestId;
  if (call.decision.max_output_tokens !== null) a['tollgate.output_clamped'] = call.decision.max_output_tokens;
  return a;
}

/**
 * What the call's end adds: the usage as the ledger row holds it (the conventions count cached input within
 * `gen_ai.usage.input_tokens`, and apart as cache reads and writes) and its cost, an exact decimal string.
 * Without an event (metering failed) only the status is known.
 */
export function endedCallAttributes(call: AllowedCall, outcome: CallOutcome, event: UsageEvent | undefined): SpanAttributes {
  const a: SpanAttributes = {};
  if (outcome.status > 0) a['http.response.status_code'] = outcome.status;
  const model = outcome.model ?? (outcome.status > 0 && outcome.status < 400 ? call.modelServed : undefined);
  if (model !== undefined) a['gen_ai.response.model'] = model;
  if (event === undefined) return a;
  a['gen_ai.usage.input_tokens'] = event.input_tokens + event.cached_input_tokens + event.cache_write_tokens;
  a['gen_ai.usage.output_tokens'] = event.output_tokens;
  a['gen_ai.usage.cache_read.input_tokens'] = event.cached_input_tokens;
  a['gen_ai.usage.cache_creation.input_tokens'] = event.cache_write_tokens;
  a['tollgate.cost'] = event.cost;
  a['tollgate.currency'] = event.currency;
  a['tollgate.partial'] = event.partial;
  if (event.cost_estimated === true) a['tollgate.cost_estimated'] = true;
  if (event.flags !== undefined && event.flags.length > 0) a['tollgate.flags'] = [...event.flags];
  return a;
}

/** Why an ended call's span is an error, or null when it is not one: the answer's status (0: none came). */
export function callError(outcome: CallOutcome): string | null {
  if (outcome.status === 0) return 'no_answer';
  return outcome.status >= 400 ? String(outcome.status) : null;
}

/** A refused call: who it is attributed to (as its decision log row), what was decided and why. */
export function refusedCallAttributes(adapter: ProviderAdapter, record: DecisionRecord): SpanAttributes {
  const a: SpanAttributes = {
    ...providerAttributes(adapter, record.endpoint),
    'http.response.status_code': record.http_status,
    'error.type': record.code,
    'tollgate.request_id': record.request_id,
    'tollgate.endpoint': record.endpoint,
    'tollgate.decision_code': record.code,
    'tollgate.budget_tier': record.budget_tier,
  };
  if (record.model !== null) a['gen_ai.request.model'] = record.model;
  if (record.policy_revision !== null) a['tollgate.policy_revision'] = record.policy_revision;
  if (record.bu_id !== null) a['tollgate.bu'] = record.bu_id;
  if (record.use_case_id !== null) a['tollgate.use_case'] = record.use_case_id;
  if (record.agent_id !== null) a['tollgate.agent_id'] = record.agent_id;
  if (record.session_id !== null) a['tollgate.session_id'] = record.session_id;
  return a;
}

/** `gen_ai.system` is the conventions' former name for the provider, still read by many backends: both are set. */
function providerAttributes(adapter: ProviderAdapter, endpoint: string): SpanAttributes {
  const a: SpanAttributes = { 'gen_ai.provider.name': adapter.genAiProvider, 'gen_ai.system': adapter.genAiProvider };
  const operation = adapter.operations[endpoint];
  if (operation !== undefined) a['gen_ai.operation.name'] = operation;
  return a;
}
