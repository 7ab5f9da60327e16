import type { NormalizedUsage } from '../providers/types.js';

/**
 * What a call can be billed at most: nothing is billed beyond what was possible. A provider that reports more
 * (a faulty reply, a compromised upstream: usage 1e15/1e15 for max_tokens 16 once made a $10,000,000,000 row
 * and put a use case at its hard cap) is billed at the bound, and what it reported goes to the review queue.
 *
 * Output: the output limit per answer as forwarded upstream (after any clamp) × the answers asked for (`n`);
 * `outputUnset` per answer when the body set no limit (the largest output any served model produces).
 * Input, all kinds together (fresh, cache reads, cache writes): a token per byte of the request body (no
 * tokenizer makes more than a token of a byte; JSON syntax and base64 make far fewer) plus `inputAllowance`
 * for what the provider adds that the body does not spell out: the tool-use system prompt, message framing,
 * an image given inline whose pixels cost more tokens than its compressed bytes. When the body references
 * content the provider holds or fetches (`previous_response_id`, `conversation`, a stored `prompt`, files by
 * id or URL, images by URL, a container, MCP servers, server-side tools such as web search or code
 * interpreter), the input can be a whole context window, and a server-side tool loop reads it again on every
 * turn: `stateAllowance` takes the place of `inputAllowance` then.
 */
export type BoundLimits = { inputAllowance: number; stateAllowance: number; outputUnset: number };

export type Bound = { input_tokens: number; output_tokens: number };

/** What the bound needs to know about a call. */
export type BoundedCall = { bodyBytes: number; choices: number; outputLimit: number | null; requestBody: Record<string, unknown> };

/** The call's bound; `state` says whether its body references server-side content (computed if not given). */
export function boundOf(call: BoundedCall, limits: BoundLimits, state = referencesServerState(call.requestBody)): Bound {
  return { input_tokens: call.bodyBytes + (state ? limits.stateAllowance : limits.inputAllowance), output_tokens: outputBound(call, limits) };
}

/**
 * The usage to bill and the bound, when `usage` passes it; null when it does not. The common case costs a few
 * comparisons and allocates nothing: the body is looked at only when the input passes the stateless bound.
 */
export function overBound(usage: NormalizedUsage, call: BoundedCall, limits: BoundLimits): { billed: NormalizedUsage; bound: Bound } | null {
  const input = usage.input_tokens + usage.cached_input_tokens + usage.cache_write_tokens;
  const output = outputBound(call, limits);
  let inputBound = call.bodyBytes + limits.inputAllowance;
  if (input > inputBound && referencesServerState(call.requestBody)) inputBound = call.bodyBytes + limits.stateAllowance;
  if (input <= inputBound && usage.output_tokens <= output) return null;
  const bound = { input_tokens: inputBound, output_tokens: output };
  return { billed: clampTo(usage, bound), bound };
}

function outputBound(call: BoundedCall, limits: BoundLimits): number {
  return Math.min((call.outputLimit ?? limits.outputUnset) * call.choices, Number.MAX_SAFE_INTEGER);
}

/** Input kinds scaled down together to the input bound (the provider's mix kept), output cut at the output bound. */
function clampTo(usage: NormalizedUsage, bound: Bound): NormalizedUsage {
  const output_tokens = Math.min(usage.output_tokens, bound.output_tokens);
  const input = usage.input_tokens + usage.cached_input_tokens + usage.cache_write_tokens;
  if (input <= bound.input_tokens) return { ...usage, output_tokens };
  const share = bound.input_tokens / input;
  const cached_input_tokens = Math.floor(usage.cached_input_tokens * share);
  const cache_write_tokens = Math.floor(usage.cache_write_tokens * share);
  return { input_tokens: bound.input_tokens - cached_input_tokens - cache_write_tokens, cached_input_tokens, cache_write_tokens, output_tokens };
}

// Keys whose (non-null) value is content the provider holds or fetches, or a session it keeps. Gemini: a context
// cache (cachedContent), and its server-side tools, declared by key rather than by type (googleSearch, codeExecution…).
const STATE_KEYS: ReadonlySet<string> = new Set([
  'previous_response_id', 'conversation', 'prompt', 'file_id', 'container', 'mcp_servers', 'vector_store_ids', 'web_search_options',
  'cachedContent', 'googleSearch', 'googleSearchRetrieval', 'codeExecution', 'urlContext', 'fileSearch', 'googleMaps', 'computerUse',
]);
// Keys whose value is content the provider fetches when it is an http(s) URL (a data: URL is in the body's bytes);
// Gemini's fileData.fileUri is a Files API URL or a public one, fetched either way.
const URL_KEYS: ReadonlySet<string> = new Set(['url', 'image_url', 'file_url', 'fileUri']);
// Tools that run in the body's own terms; any other type (web_search, code_interpreter, mcp, bash_20250124…) is the provider's.
const CLIENT_TOOL_TYPES: ReadonlySet<unknown> = new Set([undefined, null, 'function', 'custom']);
const MAX_DEPTH = 64;

/** Whether the body references server-side state or remote content (see above). */
export function referencesServerState(value: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => referencesServerState(v, depth + 1));
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null || v === undefined || v === false) continue;
    if (STATE_KEYS.has(key)) return true;
    if (URL_KEYS.has(key) && typeof v === 'string' && /^https?:\/\//i.test(v)) return true;
    if (key === 'tools' && Array.isArray(v) && v.some((t) => !CLIENT_TOOL_TYPES.has((t as { type?: unknown } | null)?.type))) return true;
    if (referencesServerState(v, depth + 1)) return true;
  }
  return false;
}
