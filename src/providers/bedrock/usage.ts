import { asObject, isBadCount, parseJson, reportedCounts, stringField, tokenCount } from '../json.js';
import { ZERO_USAGE, type NormalizedUsage, type StreamUsageReader } from '../types.js';
import { ToolNames } from '../tools.js';
import { badUsage as anthropicBadUsage, streamReader as anthropicStreamReader, usageFromBody as anthropicUsage } from '../anthropic/usage.js';

/**
 * Usage in each of Bedrock's wire formats, in tollgate's four disjoint kinds:
 * - Converse's `usage` and ConverseStream's `metadata` event
 *   (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html): inputTokens are the
 *   prompt tokens billed at the input price; cacheReadInputTokens and cacheWriteInputTokens are reported apart from
 *   them (totalTokens = input + output + cache read + cache write), as Anthropic reports its own.
 * - InvokeModel's answer is Anthropic's message, with Anthropic's usage.
 * - InvokeModelWithResponseStream's chunks carry Anthropic's stream events; the last one adds
 *   `amazon-bedrock-invocationMetrics` (input, output, cache read and write counts), Bedrock's own account of the
 *   call, which wins over the events' when it came.
 */
const CONVERSE_COUNTS = ['inputTokens', 'outputTokens', 'cacheReadInputTokens', 'cacheWriteInputTokens'] as const;
const METRICS_COUNTS = ['inputTokenCount', 'outputTokenCount', 'cacheReadInputTokenCount', 'cacheWriteInputTokenCount'] as const;

type Read = { usage: NormalizedUsage } | { bad: Record<string, unknown> } | null;

/** `keys`: the input, output, cache-read and cache-write count fields, in that order. */
function readCounts(value: unknown, keys: readonly [string, string, string, string]): Read {
  const counts = asObject(value);
  if (counts === undefined || (counts[keys[0]] === undefined && counts[keys[1]] === undefined)) return null;
  const raw = Object.fromEntries(keys.map((key) => [key, counts[key]]));
  if (Object.values(raw).some(isBadCount)) return { bad: reportedCounts(raw) };
  const [input, output, cacheRead, cacheWrite] = keys.map((key) => tokenCount(counts[key]) ?? 0) as [number, number, number, number];
  return { usage: { input_tokens: input, cached_input_tokens: cacheRead, cache_write_tokens: cacheWrite, output_tokens: output } };
}

export const readConverseUsage = (usage: unknown): Read => readCounts(usage, CONVERSE_COUNTS);
export const readInvocationMetrics = (metrics: unknown): Read => readCounts(metrics, METRICS_COUNTS);

const isInvoke = (endpoint: string) => endpoint.startsWith('/invoke');

export function usageFromBody(endpoint: string, body: unknown): NormalizedUsage | null {
  if (isInvoke(endpoint)) return anthropicUsage('/messages', body);
  const read = readConverseUsage(asObject(body)?.usage);
  return read !== null && 'usage' in read ? read.usage : null;
}

export function badUsage(endpoint: string, body: unknown): Record<string, unknown> | undefined {
  if (isInvoke(endpoint)) return anthropicBadUsage('/messages', body);
  const read = readConverseUsage(asObject(body)?.usage);
  return read !== null && 'bad' in read ? read.bad : undefined;
}

/** InvokeModel's answer is Anthropic's message, which names its model; Converse's answer names none. */
export function modelFromBody(body: unknown): string | undefined {
  return stringField(body, 'model');
}

export function streamReader(endpoint: string): StreamUsageReader {
  return isInvoke(endpoint) ? invokeStreamReader() : converseStreamReader();
}

type ReaderState = { usage: NormalizedUsage; complete: boolean; deltas: number; invalidUsage?: Record<string, unknown> };

/**
 * ConverseStream's events by their :event-type (messageStart, contentBlockStart, contentBlockDelta,
 * contentBlockStop, messageStop, metadata): the payload is the event's JSON; the metadata event, the stream's last,
 * carries the usage.
 */
function converseStreamReader(): StreamUsageReader {
  const state: ReaderState = { usage: { ...ZERO_USAGE }, complete: false, deltas: 0 };
  const tools = new ToolNames();
  let ended = false;
  return {
    push(event, data) {
      if (event === 'contentBlockDelta') {
        state.deltas++;
        return;
      }
      if (event === 'contentBlockStart') {
        tools.add(asObject(asObject(asObject(parseJson(data))?.start)?.toolUse)?.name);
        return;
      }
      if (event !== 'metadata') return;
      ended = true;
      const read = readConverseUsage(asObject(parseJson(data))?.usage);
      if (read === null) return;
      if ('bad' in read) state.invalidUsage = read.bad;
      else Object.assign(state, { usage: read.usage, complete: true });
    },
    result: () => ({ ...state, usage: { ...state.usage } }),
    tools: () => tools.sorted(),
    ended: () => ended,
  };
}

/**
 * InvokeModelWithResponseStream's `chunk` events: `{"bytes": base64 of an Anthropic stream event}`, read by
 * Anthropic's reader; the invocation metrics of the last one (Anthropic's `message_stop`) complete the usage.
 */
function invokeStreamReader(): StreamUsageReader {
  const anthropic = anthropicStreamReader('/messages');
  let metrics: NormalizedUsage | undefined;
  let invalidMetrics: Record<string, unknown> | undefined;
  return {
    push(event, data) {
      if (event !== 'chunk') return;
      const bytes = asObject(parseJson(data))?.bytes;
      if (typeof bytes !== 'string') return;
      const text = Buffer.from(bytes, 'base64').toString('utf8');
      const payload = asObject(parseJson(text));
      if (typeof payload?.type !== 'string') return;
      anthropic.push(payload.type, text);
      const read = readInvocationMetrics(payload['amazon-bedrock-invocationMetrics']);
      if (read === null) return;
      if ('bad' in read) invalidMetrics = read.bad;
      else metrics = read.usage;
    },
    result() {
      const read = anthropic.result();
      if (metrics !== undefined) return { ...read, usage: { ...metrics }, complete: true };
      return invalidMetrics === undefined ? read : { ...read, invalidUsage: invalidMetrics };
    },
    tools: () => anthropic.tools(),
    ended: () => anthropic.ended?.() === true,
  };
}

/** Bedrock reports usage unasked: tollgate never adds a request for it. */
export function isInjectedUsageEvent(): boolean {
  return false;
}
