import { asObject, isBadCount, nonStandardTier, parseJson, reportedCounts, stringField, tokenCount } from '../json.js';
import { ZERO_USAGE, type NormalizedUsage, type StreamUsageReader } from '../types.js';
import { ToolNames } from '../tools.js';
import { addChatCalls, addResponseOutput, addResponsesItem } from './tools.js';

/**
 * Where each endpoint keeps its counts. OpenAI counts cache reads inside the input count
 * (https://platform.openai.com/docs/guides/prompt-caching), so the normalized input is input − cached.
 */
const USAGE_FIELDS: Record<string, { input: string; details: string; output: string }> = {
  '/chat/completions': { input: 'prompt_tokens', details: 'prompt_tokens_details', output: 'completion_tokens' },
  '/responses': { input: 'input_tokens', details: 'input_tokens_details', output: 'output_tokens' },
  '/embeddings': { input: 'prompt_tokens', details: 'prompt_tokens_details', output: 'completion_tokens' },
};

/** Responses stream events whose `response` carries the final usage. */
const RESPONSE_FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/** Responses stream events that carry one output item (a function_call names its tool). */
const RESPONSE_ITEM_EVENTS = new Set(['response.output_item.added', 'response.output_item.done']);

/** The usage object's counts, null when it has none, or `bad` (the counts as they came) when one is not a count. */
export function readUsage(endpoint: string, usage: unknown): { usage: NormalizedUsage } | { bad: Record<string, unknown> } | null {
  const fields = USAGE_FIELDS[endpoint];
  const counts = asObject(usage);
  if (fields === undefined || counts === undefined) return null;
  const raw = { [fields.input]: counts[fields.input], [fields.output]: counts[fields.output], cached_tokens: asObject(counts[fields.details])?.cached_tokens };
  if (Object.values(raw).some(isBadCount)) return { bad: reportedCounts(raw) };
  const normalized = normalizeUsage(endpoint, counts);
  return normalized === null ? null : { usage: normalized };
}

/** Valid counts only: a usage object with a count that is not one (see readUsage) gives null. */
export function normalizeUsage(endpoint: string, usage: unknown): NormalizedUsage | null {
  const fields = USAGE_FIELDS[endpoint];
  const counts = asObject(usage);
  if (fields === undefined || counts === undefined) return null;
  const input = tokenCount(counts[fields.input]);
  const output = tokenCount(counts[fields.output]);
  const cachedCount = asObject(counts[fields.details])?.cached_tokens;
  if (isBadCount(counts[fields.input]) || isBadCount(counts[fields.output]) || isBadCount(cachedCount)) return null;
  if (input === undefined && output === undefined) return null;
  const cached = Math.min(input ?? 0, tokenCount(cachedCount) ?? 0);
  return {
    input_tokens: (input ?? 0) - cached,
    cached_input_tokens: cached,
    cache_write_tokens: 0,
    output_tokens: output ?? 0,
  };
}

/**
 * The tier that served a call is on the answer, not in its usage (https://platform.openai.com/docs/api-reference/chat/object#chat/object-service_tier):
 * flex and priority are priced apart.
 */
function withTier(usage: NormalizedUsage | null, tier: unknown): NormalizedUsage | null {
  const t = nonStandardTier(tier);
  if (usage !== null && t !== undefined) usage.service_tier = t;
  return usage;
}

export function usageFromBody(endpoint: string, body: unknown): NormalizedUsage | null {
  const answer = asObject(body);
  return withTier(normalizeUsage(endpoint, answer?.usage), answer?.service_tier);
}

export function badUsage(endpoint: string, body: unknown): Record<string, unknown> | undefined {
  const read = readUsage(endpoint, asObject(body)?.usage);
  return read !== null && 'bad' in read ? read.bad : undefined;
}

export function modelFromBody(body: unknown): string | undefined {
  return stringField(body, 'model');
}

type ReaderState = { usage: NormalizedUsage; complete: boolean; servedModel?: string; deltas: number; invalidUsage?: Record<string, unknown> };
/** Reads one event; true when it is the stream's last (see StreamUsageReader.ended). */
type ReadEvent = (state: ReaderState, tools: ToolNames, event: string | undefined, data: string) => boolean | void;

function reader(onData: ReadEvent): StreamUsageReader {
  const state: ReaderState = { usage: { ...ZERO_USAGE }, complete: false, deltas: 0 };
  const tools = new ToolNames();
  let ended = false;
  return {
    push: (event, data) => {
      if (onData(state, tools, event, data) === true) ended = true;
    },
    result: () => ({ ...state, usage: { ...state.usage } }),
    tools: () => tools.sorted(),
    ended: () => ended,
  };
}

/**
 * A chunk may name a tool when it has a tool call with a "name" key (only each call's first delta does; inside
 * a JSON string, as in streamed arguments, the quotes are escaped and do not match).
 */
function mayNameTool(data: string): boolean {
  return data.includes('"name"') && (data.includes('"tool_calls"') || data.includes('"function_call"'));
}

// A chat chunk whose delta carries text, a refusal or tool arguments (about a token); the role, finish and usage chunks carry none.
const OUTPUT_DELTA = /"(?:content|refusal|arguments)":\s*"(?!")/;

/** Chat chunks: the model is on every chunk, the usage only on the last one (when include_usage); then `[DONE]`. */
function readChatChunk(state: ReaderState, tools: ToolNames, _event: string | undefined, data: string): boolean | void {
  if (data === '[DONE]') return true;
  if (OUTPUT_DELTA.test(data)) state.deltas++;
  // Every chunk is JSON; parse only the ones that can tell us something new.
  const mayHaveUsage = data.includes('"usage"') && !data.includes('"usage":null');
  const mayHaveTool = mayNameTool(data);
  if (state.servedModel !== undefined && !mayHaveUsage && !mayHaveTool) return;
  const chunk = asObject(parseJson(data));
  if (chunk === undefined) return;
  state.servedModel ??= stringField(chunk, 'model');
  if (mayHaveTool) addChatCalls(tools, chunk.choices, 'delta');
  if (mayHaveUsage) takeUsage(state, readUsage('/chat/completions', chunk.usage), chunk.service_tier);
}

/** The final usage report (with the tier that served the call); one whose counts are not counts leaves the call as if it had none, and says so. */
function takeUsage(state: ReaderState, read: ReturnType<typeof readUsage>, tier: unknown): void {
  if (read === null) return;
  if ('bad' in read) state.invalidUsage = read.bad;
  else Object.assign(state, { usage: withTier(read.usage, tier), complete: true });
}

/** Output items that may call a tool; a message item's .done event carries its whole text, not worth a parse. */
function mayCallTool(data: string): boolean {
  return data.includes('"function_call"') || data.includes('"custom_tool_call"');
}

// response.output_text.delta, response.function_call_arguments.delta, response.refusal.delta, …
const DELTA_TYPE = /"type":\s*"response\.[a-z_.]+\.delta"/;

/** Usage, model and tools from a Responses stream; its final event (completed, incomplete, failed) is its last. */
function readResponsesEvent(state: ReaderState, tools: ToolNames, event: string | undefined, data: string): boolean | void {
  if (event !== undefined ? event.endsWith('.delta') : DELTA_TYPE.test(data)) {
    state.deltas++;
    return;
  }
  if (event !== undefined && RESPONSE_ITEM_EVENTS.has(event)) {
    if (mayCallTool(data)) addResponsesItem(tools, asObject(parseJson(data)) ?? {});
    return;
  }
  if (event !== undefined && event !== 'response.created' && !RESPONSE_FINAL_EVENTS.has(event)) return;
  const payload = asObject(parseJson(data));
  const last = (event !== undefined && RESPONSE_FINAL_EVENTS.has(event)) || RESPONSE_FINAL_EVENTS.has(String(payload?.type));
  if (payload === undefined) return last;
  if (RESPONSE_ITEM_EVENTS.has(String(payload.type))) return addResponsesItem(tools, payload);
  const response = asObject(payload.response);
  if (response === undefined) return last;
  state.servedModel = stringField(response, 'model') ?? state.servedModel;
  if (RESPONSE_FINAL_EVENTS.has(String(payload.type))) {
    takeUsage(state, readUsage('/responses', response.usage), response.service_tier);
    addResponseOutput(tools, response.output);
  }
  return last;
}

const STREAM_READERS: Record<string, ReadEvent> = {
  '/chat/completions': readChatChunk,
  '/responses': readResponsesEvent,
};

export function streamReader(endpoint: string): StreamUsageReader {
  return reader(STREAM_READERS[endpoint] ?? (() => {}));
}

/**
 * The usage-only chunk that exists because tollgate set stream_options.include_usage: `choices: []`
 * with a usage object. Other chunks carry `"usage": null` and pass.
 */
export function isInjectedUsageEvent(_event: string | undefined, data: string): boolean {
  if (!data.includes('"usage"') || data.includes('"usage":null')) return false;
  const chunk = asObject(parseJson(data));
  return Array.isArray(chunk?.choices) && chunk.choices.length === 0 && asObject(chunk.usage) !== undefined;
}
