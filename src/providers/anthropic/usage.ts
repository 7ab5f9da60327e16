import { asObject, isBadCount, nonStandardTier, parseJson, reportedCounts, stringField, tokenCount } from '../json.js';
import { ZERO_USAGE, type NormalizedUsage, type StreamUsageReader, type TokenKind } from '../types.js';
import { ToolNames } from '../tools.js';
import { addCallBlock } from './tools.js';

/** Anthropic reports the cache reads and writes beside input_tokens, not inside it. */
const USAGE_FIELDS = {
  input_tokens: 'input_tokens',
  cached_input_tokens: 'cache_read_input_tokens',
  cache_write_tokens: 'cache_creation_input_tokens',
  output_tokens: 'output_tokens',
} as const satisfies Record<TokenKind, string>;

const USAGE_KEYS = Object.keys(USAGE_FIELDS) as TokenKind[];

/**
 * Copies every count the usage object has onto `into`; a count that is absent or null is left alone, and so is
 * one that is not a token count: the object's counts as they came are returned in `bad` then. The detail that
 * changes the price comes along: `cache_creation` splits the cache writes by how long they live
 * (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#1-hour-cache-duration), and
 * `service_tier` says which tier served the call.
 */
function mergeUsage(into: NormalizedUsage, usage: unknown): { found: boolean; bad?: Record<string, unknown> } {
  const counts = asObject(usage);
  if (counts === undefined) return { found: false };
  let found = false;
  let bad = false;
  for (const key of USAGE_KEYS) {
    const raw = counts[USAGE_FIELDS[key]];
    const value = tokenCount(raw);
    if (value !== undefined) {
      into[key] = value;
      found = true;
    } else if (isBadCount(raw)) bad = true;
  }
  const hour = tokenCount(asObject(counts.cache_creation)?.ephemeral_1h_input_tokens);
  if (hour !== undefined && hour > 0) into.cache_write_1h_tokens = Math.min(hour, into.cache_write_tokens);
  const tier = nonStandardTier(counts.service_tier);
  if (tier !== undefined) into.service_tier = tier;
  return bad ? { found, bad: reportedCounts(Object.fromEntries(USAGE_KEYS.map((k) => [USAGE_FIELDS[k], counts[USAGE_FIELDS[k]]]))) } : { found };
}

/** Valid counts only: a usage object with a count that is not one gives null (see badUsage). */
export function normalizeUsage(usage: unknown): NormalizedUsage | null {
  const normalized = { ...ZERO_USAGE };
  const merged = mergeUsage(normalized, usage);
  return merged.found && merged.bad === undefined ? normalized : null;
}

export function usageFromBody(endpoint: string, body: unknown): NormalizedUsage | null {
  // count_tokens is free: its input_tokens is the answer to the question, not tokens consumed.
  if (endpoint === '/messages/count_tokens') return { ...ZERO_USAGE };
  return normalizeUsage(asObject(body)?.usage);
}

export function badUsage(endpoint: string, body: unknown): Record<string, unknown> | undefined {
  if (endpoint === '/messages/count_tokens') return undefined;
  return mergeUsage({ ...ZERO_USAGE }, asObject(body)?.usage).bad;
}

export function modelFromBody(body: unknown): string | undefined {
  return stringField(body, 'model');
}

/**
 * message_start carries the input and cache counts (output is usually 1); message_delta carries the
 * cumulative output count and, in newer API versions, repeats the others. Counts are cumulative, so the
 * latest non-null value of each wins, as in the SDK's own MessageStream. A tool call opens its block with
 * content_block_start, which carries the tool's name (its input follows in input_json_delta events, never read).
 * message_stop is the stream's last event.
 */
const READ_EVENTS = new Set(['message_start', 'message_delta', 'content_block_start']);
const MESSAGE_STOP = /"type":\s*"message_stop"/;

export function streamReader(_endpoint: string): StreamUsageReader {
  const usage: NormalizedUsage = { ...ZERO_USAGE };
  let complete = false;
  let servedModel: string | undefined;
  let deltas = 0;
  let invalidUsage: Record<string, unknown> | undefined;
  const tools = new ToolNames();
  let ended = false;
  const merge = (counts: unknown): boolean => {
    const merged = mergeUsage(usage, counts);
    invalidUsage = merged.bad ?? invalidUsage;
    return merged.found;
  };
  return {
    push(event, data) {
      if (event === 'message_stop' || (event === undefined && MESSAGE_STOP.test(data))) {
        ended = true;
        return;
      }
      if (event === 'content_block_delta' || (event === undefined && data.includes('"content_block_delta"'))) {
        deltas++;
        return;
      }
      if (event !== undefined && !READ_EVENTS.has(event)) return;
      // Text and thinking blocks open with content_block_start too; only tool blocks name anything.
      if (event === 'content_block_start' && !data.includes('tool_use"')) return;
      const payload = asObject(parseJson(data));
      if (payload?.type === 'content_block_start') {
        addCallBlock(tools, payload.content_block);
      } else if (payload?.type === 'message_start') {
        const message = asObject(payload.message);
        servedModel = stringField(message, 'model') ?? servedModel;
        merge(message?.usage);
      } else if (payload?.type === 'message_delta' && merge(payload.usage)) {
        complete = true;
      }
    },
    result: () => ({ usage: { ...usage }, complete, servedModel, deltas, ...(invalidUsage ? { invalidUsage } : {}) }),
    tools: () => tools.sorted(),
    ended: () => ended,
  };
}

/** tollgate never asks Anthropic for anything the client did not: its streams always carry usage. */
export function isInjectedUsageEvent(_event: string | undefined, _data: string): boolean {
  return false;
}
