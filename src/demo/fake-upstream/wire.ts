import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { NormalizedUsage } from '../../providers/types.js';

export type FakeProvider = 'openai' | 'anthropic' | 'azure' | 'gemini' | 'vertex' | 'bedrock';

/**
 * One endpoint of the fake. `model`: the model the request names when the path names it (Azure's deployment,
 * Gemini's models/{m}), else the body's; `refuse`: the vendor's own refusal of a request it cannot serve (an
 * unknown deployment, no api-version), checked after the key; `streams`: the path alone makes it a stream.
 */
export type Route = {
  path: string;
  provider: FakeProvider;
  render: Renderer;
  model?: (request: FastifyRequest) => string | undefined;
  refuse?: (request: FastifyRequest) => JsonReply | null;
  streams?: boolean;
};

/** The fake's keys, one per vendor. */
export type FakeKeys = { openaiKey: string; anthropicKey: string; azureKey?: string; geminiKey?: string };
export type Authorize = (headers: IncomingHttpHeaders, keys: FakeKeys) => JsonReply | null;

/** One SSE event the fake sends, and the usage the stream has reported once it is on the wire. */
export type SseOut = {
  event?: string;
  data: string;
  /** Usage reported so far, in tollgate's normalized form, when this event reports (some of) it. */
  usage?: NormalizedUsage;
  /** This event completes the stream's usage report. */
  final?: boolean;
};

/** `headers`: the vendor's own on this answer (Bedrock's error type, its token counts). */
export type JsonReply = { status: number; json: unknown; usage: NormalizedUsage; counted?: number; headers?: Record<string, string> };
/**
 * A stream: SSE unless it names its own framing (Bedrock's AWS event stream): its content type, how an event is
 * framed, and how a failure midway is.
 */
export type StreamReply = {
  status: 200; events: SseOut[];
  contentType?: string; encode?: (event: SseOut) => Uint8Array; encodeError?: (type: string | undefined, message: string) => Uint8Array;
};
export type Reply = JsonReply | StreamReply;

/** `betas`: the anthropic-beta values the request carried (Anthropic's rules depend on a few). */
export type RenderContext = { id: string; created: number; betas?: readonly string[] };
export type Renderer = (body: Record<string, unknown>, ctx: RenderContext) => Reply;

/** How many tokens the fake bills for a prompt, and how they split between fresh, cache-read and cache-write. */
export type PromptTokens = { total: number; cacheRead: number; cacheWrite: number; fresh: number };

const TEXT_KEYS = ['messages', 'input', 'instructions', 'system', 'content', 'text'];
const REPLY_WORDS = 'tollgate meters every call that passes through it and reports the tokens it saw to finance'.split(' ');
const MAX_REPLY_WORDS = 20;

function collectText(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) collectText(item, out);
  else if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of TEXT_KEYS) if (key in record) collectText(record[key], out);
  }
}

export function promptText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  collectText(body, parts);
  return parts.join('\n');
}

/** ceil(chars / 4), at least 1; "[cache]" makes half of it a cache read, "[cache-write]" a quarter a cache write. */
export function promptTokens(body: Record<string, unknown>, { cacheWrites }: { cacheWrites: boolean }): PromptTokens {
  const text = promptText(body);
  const total = Math.max(1, Math.ceil(text.length / 4));
  const cacheRead = text.includes('[cache]') ? Math.floor(total / 2) : 0;
  const cacheWrite = cacheWrites && text.includes('[cache-write]') ? Math.floor(total / 4) : 0;
  return { total, cacheRead, cacheWrite, fresh: total - cacheRead - cacheWrite };
}

/** The reply is one token per word: min(limit, 20) words of a fixed sentence. */
export function replyWords(limit: unknown): { words: string[]; truncated: boolean } {
  const wanted = typeof limit === 'number' && Number.isInteger(limit) && limit > 0 ? limit : MAX_REPLY_WORDS;
  const count = Math.min(wanted, MAX_REPLY_WORDS);
  const words = Array.from({ length: count }, (_, i) => REPLY_WORDS[i % REPLY_WORDS.length] as string);
  return { words: words.map((word, i) => (i === 0 ? word : ` ${word}`)), truncated: wanted < MAX_REPLY_WORDS };
}

export function usage(input: number, cached: number, cacheWrite: number, output: number): NormalizedUsage {
  return { input_tokens: input, cached_input_tokens: cached, cache_write_tokens: cacheWrite, output_tokens: output };
}

export function formatSse(out: SseOut): string {
  return out.event === undefined ? `data: ${out.data}\n\n` : `event: ${out.event}\ndata: ${out.data}\n\n`;
}

export function sse(event: string | undefined, payload: unknown, report?: Pick<SseOut, 'usage' | 'final'>): SseOut {
  const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return { ...(event === undefined ? {} : { event }), data, ...report };
}

/**
 * A tool call's arguments as a JSON text, and the pieces it streams in: one piece per reply word (so a tool call
 * bills the same output tokens as a text reply), the JSON punctuation in the first and last. Scripted arguments
 * (`input`: an object, or a freeform tool's text) are sent as they are, cut into at most as many pieces as there
 * are words; the call still bills one output token per word.
 */
export function toolArguments(words: readonly string[], input?: Record<string, unknown> | string): { json: string; pieces: string[] } {
  if (input !== undefined) {
    const json = typeof input === 'string' ? input : JSON.stringify(input);
    const size = Math.max(1, Math.ceil(json.length / Math.max(1, words.length)));
    const pieces = Array.from({ length: Math.ceil(json.length / size) }, (_, i) => json.slice(i * size, (i + 1) * size));
    return { json, pieces };
  }
  const json = JSON.stringify({ query: words.join('') });
  const inner = words.map((word) => JSON.stringify(word).slice(1, -1));
  const pieces = ['{"query":"', ...inner, '"}'];
  return { json, pieces: pieces.filter((p) => p !== '') };
}
