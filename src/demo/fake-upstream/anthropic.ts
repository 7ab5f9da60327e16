import { foldTurns, planToolCall, type LastTurn, type ToolCall } from './turn.js';
import { promptTokens, replyWords, sse, toolArguments, usage, type PromptTokens, type Renderer, type Reply, type SseOut } from './wire.js';

/**
 * Anthropic's wire formats: https://docs.anthropic.com/en/api/messages, .../messages-streaming, .../messages-count-tokens.
 * A request that declares tools gets a tool_use block or text as turn.ts decides; only client tools are called
 * (server tools such as web_search run at Anthropic).
 */

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null ? (value as Json) : undefined);

/** Client tools have no type, or type 'custom'; server tools have a versioned type (web_search_20250305…). */
function clientToolName(tool: Json | undefined): string | undefined {
  const client = tool !== undefined && (tool.type === undefined || tool.type === null || tool.type === 'custom');
  return client && typeof tool.name === 'string' ? tool.name : undefined;
}

const blocksOf = (message: Json): (Json | undefined)[] => (Array.isArray(message.content) ? (message.content as unknown[]).map(record) : []);
const hasToolResult = (message: Json): boolean => blocksOf(message).some((block) => block?.type === 'tool_result');

/** A user message's own text: a string, or its text blocks; undefined for other turns and for tool results. */
function userText(message: Json): string | undefined {
  if (message.role !== 'user' || hasToolResult(message)) return undefined;
  if (typeof message.content === 'string') return message.content;
  return blocksOf(message).map((block) => (block?.type === 'text' && typeof block.text === 'string' ? block.text : '')).join('\n');
}

/** Claude Code puts `role: system` messages between the turns; they are instructions, not turns. */
function lastTurn(body: Json): LastTurn {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]).map(record) : [];
  const turns = messages.filter((m): m is Json => m !== undefined && m.role !== 'system');
  return foldTurns(turns, userText, (m) => m.role === 'user' && hasToolResult(m));
}

export function toolToCall(body: Json): ToolCall | undefined {
  const choice = record(body.tool_choice);
  if (choice?.type === 'none' || !Array.isArray(body.tools)) return undefined;
  const names = (body.tools as unknown[]).map((tool) => clientToolName(record(tool))).filter((name) => name !== undefined);
  const declared = new Map(names.map((name) => [name, { freeform: false }]));
  const chosen = choice?.type === 'tool' && typeof choice.name === 'string' ? choice.name : undefined;
  return planToolCall(declared, lastTurn(body), chosen);
}

type Block = { content: Json; start: Json; deltas: Json[]; stopReason: string };

function textBlock(words: string[], truncated: boolean): Block {
  return {
    content: { type: 'text', text: words.join('') },
    start: { type: 'text', text: '' },
    deltas: words.map((text) => ({ type: 'text_delta', text })),
    stopReason: truncated ? 'max_tokens' : 'end_turn',
  };
}

function toolUseBlock(call: ToolCall, id: string, words: string[], truncated: boolean): Block {
  const args = toolArguments(words, call.input);
  const opening = { type: 'tool_use', id: `toolu_${id}`, name: call.name, input: {} };
  return {
    content: { ...opening, input: JSON.parse(args.json) as unknown },
    start: opening,
    deltas: args.pieces.map((partial_json) => ({ type: 'input_json_delta', partial_json })),
    stopReason: truncated ? 'max_tokens' : 'tool_use',
  };
}

/**
 * Cache writes live an hour when a cache breakpoint asks for it (`cache_control: {type: 'ephemeral', ttl: '1h'}`);
 * the usage then reports them under cache_creation.ephemeral_1h_input_tokens (within cache_creation_input_tokens).
 */
function asksForHourCache(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(asksForHourCache);
  const o = record(value);
  if (o === undefined) return false;
  if (record(o.cache_control)?.ttl === '1h') return true;
  return Object.values(o).some((v) => typeof v === 'object' && v !== null && asksForHourCache(v));
}

function wireUsageOf(prompt: PromptTokens, output: number, hourCache: boolean) {
  return {
    input_tokens: prompt.fresh,
    cache_creation_input_tokens: prompt.cacheWrite,
    cache_read_input_tokens: prompt.cacheRead,
    cache_creation: hourCache
      ? { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: prompt.cacheWrite }
      : { ephemeral_5m_input_tokens: prompt.cacheWrite, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  };
}

export function errorJson(type: string, message: string, requestId?: string) {
  return { type: 'error', error: { type, message }, ...(requestId === undefined ? {} : { request_id: requestId }) };
}

/**
 * Extended thinking's rules (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking): a budget of
 * at least 1,024 tokens, below max_tokens unless interleaved thinking is on (the budget then spans the turn).
 */
const INTERLEAVED_THINKING = 'interleaved-thinking-2025-05-14';
const MIN_THINKING_BUDGET = 1024;

function thinkingRefusal(body: Record<string, unknown>, betas: readonly string[]): string | null {
  const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  if (thinking?.type !== 'enabled') return null;
  const budget = thinking.budget_tokens;
  if (typeof budget !== 'number' || budget < MIN_THINKING_BUDGET) return `thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET}`;
  if (budget >= Number(body.max_tokens) && !betas.includes(INTERLEAVED_THINKING)) return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
  return null;
}

export const messages: Renderer = (body, { id, betas = [] }): Reply => {
  if (typeof body.max_tokens !== 'number') {
    return { status: 400, json: errorJson('invalid_request_error', 'max_tokens: Field required'), usage: usage(0, 0, 0, 0) };
  }
  const refused = thinkingRefusal(body, betas);
  if (refused !== null) return { status: 400, json: errorJson('invalid_request_error', refused), usage: usage(0, 0, 0, 0) };
  const prompt = promptTokens(body, { cacheWrites: true });
  const { words, truncated } = replyWords(body.max_tokens);
  const tool = toolToCall(body);
  const block = tool === undefined ? textBlock(words, truncated) : toolUseBlock(tool, id, words, truncated);
  const stopReason = block.stopReason;
  const hourCache = asksForHourCache(body) && prompt.cacheWrite > 0;
  const reportedAt = (output: number) => ({
    ...usage(prompt.fresh, prompt.cacheRead, prompt.cacheWrite, output),
    ...(hourCache ? { cache_write_1h_tokens: prompt.cacheWrite } : {}),
  });
  const wireUsage = (output: number) => wireUsageOf(prompt, output, hourCache);
  const message = { id: `msg_${id}`, type: 'message', role: 'assistant', model: String(body.model) };
  if (body.stream !== true) {
    const content = [block.content];
    const json = { ...message, content, stop_reason: stopReason, stop_sequence: null, usage: wireUsage(words.length) };
    return { status: 200, json, usage: reportedAt(words.length) };
  }
  const { output_tokens: _output, service_tier: _tier, cache_creation: _split, ...totals } = wireUsage(words.length);
  const event = (type: string, fields: object, report?: Pick<SseOut, 'usage' | 'final'>) => sse(type, { type, ...fields }, report);
  const start = { ...message, content: [], stop_reason: null, stop_sequence: null, usage: wireUsage(1) };
  const events: SseOut[] = [
    event('message_start', { message: start }, { usage: reportedAt(1) }),
    event('content_block_start', { index: 0, content_block: block.start }),
    event('ping', {}),
    ...block.deltas.map((delta) => event('content_block_delta', { index: 0, delta })),
    event('content_block_stop', { index: 0 }),
    event(
      'message_delta',
      { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { ...totals, output_tokens: words.length } },
      { usage: reportedAt(words.length), final: true },
    ),
    event('message_stop', {}),
  ];
  return { status: 200, events };
};

export const countTokens: Renderer = (body): Reply => {
  const prompt = promptTokens(body, { cacheWrites: true });
  return { status: 200, json: { input_tokens: prompt.total }, usage: usage(0, 0, 0, 0), counted: prompt.total };
};

/**
 * Headers api.anthropic.com puts on an answer besides its request id: the account's organization, rate limits,
 * and its CDN's cookie and markers.
 */
export function answerHeaders(): Record<string, string | string[]> {
  const reset = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const limits = (kind: string, limit: number) => ({
    [`anthropic-ratelimit-${kind}-limit`]: String(limit), [`anthropic-ratelimit-${kind}-remaining`]: String(limit - 1), [`anthropic-ratelimit-${kind}-reset`]: reset,
  });
  return {
    'anthropic-organization-id': '00000000-0000-4000-8000-0000fa4e0001',
    ...limits('requests', 4000), ...limits('input-tokens', 2000000), ...limits('output-tokens', 400000), ...limits('tokens', 2400000),
    'set-cookie': '__cf_bm=fake-bm; path=/; domain=.api.anthropic.com; HttpOnly; Secure; SameSite=None',
    via: '1.1 google', 'cf-ray': '8f00000000000001-SJC', server: 'cloudflare', 'x-robots-tag': 'none',
  };
}
