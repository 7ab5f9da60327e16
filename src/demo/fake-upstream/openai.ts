import type { NormalizedUsage } from '../../providers/types.js';
import { foldTurns, planToolCall, type LastTurn, type ToolCall } from './turn.js';
import { promptTokens, replyWords, sse, toolArguments, usage, type Renderer, type Reply, type SseOut } from './wire.js';

/**
 * OpenAI's wire formats: https://platform.openai.com/docs/api-reference (chat, responses, embeddings). A request
 * that declares function tools gets a call or text as turn.ts decides (tool_choice may name the function);
 * https://platform.openai.com/docs/guides/function-calling.
 */

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null ? (value as Json) : undefined);

/** Chat tools nest the name under `function`; Responses tools carry it themselves. */
function functionName(tool: Json | undefined): string | undefined {
  if (tool?.type !== 'function') return undefined;
  const name = tool.name ?? record(tool.function)?.name;
  return typeof name === 'string' ? name : undefined;
}

const INSTRUCTION_ROLES = new Set(['system', 'developer']);
/** Chat's tool answers are messages of role tool (function, before tools); Responses' are *_output items. */
const isToolResult = (item: Json): boolean =>
  item.role === 'tool' || item.role === 'function' || (typeof item.type === 'string' && item.type.endsWith('_call_output'));

/**
 * Text of a message's content: a string, or parts of type text / input_text. Codex passes a task to a subagent in an
 * `agent_message` whose payload is `encrypted_content` that the model's server made from a tool argument it marked
 * encrypted; the fake never encrypts, so that content is the argument's plain text.
 */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts = (content as unknown[]).map(record).map((part) => part?.text ?? part?.encrypted_content);
  return parts.filter((text) => typeof text === 'string').join('\n');
}

/** A user turn's text: a user message, or a message from another agent (Codex subagents). */
const userTurnText = (item: Json): string | undefined =>
  item.role === 'user' || item.type === 'agent_message' ? contentText(item.content) : undefined;

/** The turns that are not instructions: chat `messages`, or Responses `input` (a string or a list of items). */
function lastTurn(body: Json): LastTurn {
  const turns = body.messages ?? body.input;
  if (typeof turns === 'string') return { userText: turns, toolResults: 0, scripted: false };
  const items = Array.isArray(turns) ? (turns as unknown[]).map(record) : [];
  const conversation = items.filter((item): item is Json => item !== undefined && !INSTRUCTION_ROLES.has(String(item.role)));
  return foldTurns(conversation, userTurnText, isToolResult);
}

/** Chat: function tools only (the answer can only call those). */
export function chatToolToCall(body: Json): ToolCall | undefined {
  if (body.tool_choice === 'none' || !Array.isArray(body.tools)) return undefined;
  const names = (body.tools as unknown[]).map((tool) => functionName(record(tool))).filter((name) => name !== undefined);
  return planToolCall(new Map(names.map((name) => [name, { freeform: false }])), lastTurn(body), functionName(record(body.tool_choice)));
}

type ResponsesTools = Map<string, { freeform: boolean; namespace?: string }>;

/** Function and custom (freeform) tools, also inside namespaces (`{ type: 'namespace', name, tools }`). */
function declareTools(tools: unknown, into: ResponsesTools, namespace?: string): void {
  if (!Array.isArray(tools)) return;
  for (const tool of (tools as unknown[]).map(record)) {
    if (tool === undefined || typeof tool.name !== 'string') continue;
    if (tool.type === 'namespace') declareTools(tool.tools, into, tool.name);
    else if (tool.type === 'function' || tool.type === 'custom') into.set(tool.name, { freeform: tool.type === 'custom', ...(namespace === undefined ? {} : { namespace }) });
  }
}

/** Responses: tools in `tools`, and in `additional_tools` input items (how Codex declares them to its newer models). */
function responsesTools(body: Json): ResponsesTools | null {
  const items = Array.isArray(body.input) ? (body.input as unknown[]).map(record) : [];
  const extra = items.filter((item) => item?.type === 'additional_tools');
  if (body.tool_choice === 'none' || (!Array.isArray(body.tools) && extra.length === 0)) return null;
  const declared: ResponsesTools = new Map();
  declareTools(body.tools, declared);
  for (const item of extra) declareTools(item!.tools, declared);
  return declared;
}

/** The call, with the namespace its tool was declared in. */
export function responsesToolToCall(body: Json): (ToolCall & { namespace?: string; freeform: boolean }) | undefined {
  const declared = responsesTools(body);
  const call = planToolCall(declared, lastTurn(body), functionName(record(body.tool_choice)));
  if (call === undefined) return undefined;
  const tool = declared!.get(call.name);
  return { ...call, freeform: tool?.freeform === true, ...(tool?.namespace === undefined ? {} : { namespace: tool.namespace }) };
}

const EMBEDDING_DIMENSIONS = 8;

function chatUsage(prompt: number, cached: number, completion: number) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

type ChatAnswer = { message: Json; finish: string; deltas: Json[] };

function chatText(words: string[], truncated: boolean): ChatAnswer {
  return {
    message: { role: 'assistant', content: words.join(''), refusal: null, annotations: [] },
    finish: truncated ? 'length' : 'stop',
    deltas: [{ role: 'assistant', content: '', refusal: null }, ...words.map((word) => ({ content: word }))],
  };
}

function chatToolCall(tool: ToolCall, id: string, words: string[], truncated: boolean): ChatAnswer {
  const args = toolArguments(words, tool.input);
  const call = { id: `call_${id}`, type: 'function', function: { name: tool.name, arguments: args.json } };
  const opening = { index: 0, id: call.id, type: 'function', function: { name: tool.name, arguments: '' } };
  return {
    message: { role: 'assistant', content: null, refusal: null, annotations: [], tool_calls: [call] },
    finish: truncated ? 'length' : 'tool_calls',
    deltas: [
      { role: 'assistant', content: null, refusal: null, tool_calls: [opening] },
      ...args.pieces.map((piece) => ({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
    ],
  };
}

/**
 * The tier that serves a call: the one it asked for when that is flex or priority (the answer's service_tier
 * says so, https://platform.openai.com/docs/api-reference/chat/create#chat-create-service_tier), else default.
 */
function servedTier(body: Json): string {
  return body.service_tier === 'flex' || body.service_tier === 'priority' ? body.service_tier : 'default';
}

function withTier(u: NormalizedUsage, tier: string): NormalizedUsage {
  return tier === 'default' ? u : { ...u, service_tier: tier };
}

/** `n` answers (https://platform.openai.com/docs/api-reference/chat/create#chat-create-n), each billed in full. */
function answerCount(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 1;
}

export const chatCompletions: Renderer = (body, { id, created }): Reply => {
  const prompt = promptTokens(body, { cacheWrites: false });
  const { words, truncated } = replyWords(body.max_completion_tokens ?? body.max_tokens);
  const tool = chatToolToCall(body);
  const answer = tool === undefined ? chatText(words, truncated) : chatToolCall(tool, id, words, truncated);
  const model = String(body.model);
  const tier = servedTier(body);
  const n = answerCount(body.n);
  const reported = withTier(usage(prompt.total - prompt.cacheRead, prompt.cacheRead, 0, words.length * n), tier);
  const wireUsage = chatUsage(prompt.total, prompt.cacheRead, words.length * n);
  const base = { id: `chatcmpl-${id}`, created, model, system_fingerprint: 'fp_fake', service_tier: tier };
  const indexes = Array.from({ length: n }, (_, index) => index);
  if (body.stream !== true) {
    const choices = indexes.map((index) => ({ index, message: answer.message, logprobs: null, finish_reason: answer.finish }));
    return { status: 200, json: { ...base, object: 'chat.completion', choices, usage: wireUsage }, usage: reported };
  }
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const chunk = (index: number, delta: object, finish: string | null) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const events: SseOut[] = indexes.flatMap((index) => [
    ...answer.deltas.map((delta) => sse(undefined, chunk(index, delta, null))),
    sse(undefined, chunk(index, {}, answer.finish)),
  ]);
  if (includeUsage) {
    const usageChunk = { ...base, object: 'chat.completion.chunk', choices: [], usage: wireUsage };
    events.push(sse(undefined, usageChunk, { usage: reported, final: true }));
  }
  events.push(sse(undefined, '[DONE]'));
  return { status: 200, events };
};

function responsesUsage(input: number, cached: number, output: number) {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

function responseObject(body: Record<string, unknown>, id: string, created: number) {
  return {
    id: `resp_${id}`,
    object: 'response',
    created_at: created,
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: String(body.model),
    output: [] as unknown[],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_p: 1,
    truncation: 'disabled',
    usage: null as unknown,
    service_tier: servedTier(body),
    user: null,
    metadata: {},
  };
}

type Emit = (type: string, fields: object) => SseOut;
/** The one output item of a response, and the events that stream it between response.in_progress and response.completed. */
type ResponseItem = { item: Json; stream: (event: Emit) => SseOut[] };

function responseMessage(id: string, words: string[]): ResponseItem {
  const text = words.join('');
  const itemId = `msg_${id}`;
  const part = { type: 'output_text', annotations: [], logprobs: [], text };
  const item = { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [part] };
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  return {
    item,
    stream: (event) => [
      event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
      event('response.content_part.added', { ...at, part: { ...part, text: '' } }),
      ...words.map((delta) => event('response.output_text.delta', { ...at, delta, logprobs: [] })),
      event('response.output_text.done', { ...at, text, logprobs: [] }),
      event('response.content_part.done', { ...at, part }),
      event('response.output_item.done', { output_index: 0, item }),
    ],
  };
}

type ResponsesCall = NonNullable<ReturnType<typeof responsesToolToCall>>;

function responseFunctionCall(tool: ResponsesCall, id: string, words: string[]): ResponseItem {
  const args = toolArguments(words, tool.input);
  const namespace = tool.namespace === undefined ? {} : { namespace: tool.namespace };
  const item = { id: `fc_${id}`, type: 'function_call', status: 'completed', arguments: args.json, call_id: `call_${id}`, name: tool.name, ...namespace };
  const at = { item_id: item.id, output_index: 0 };
  return {
    item,
    stream: (event) => [
      event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } }),
      ...args.pieces.map((delta) => event('response.function_call_arguments.delta', { ...at, delta })),
      event('response.function_call_arguments.done', { ...at, arguments: args.json }),
      event('response.output_item.done', { output_index: 0, item }),
    ],
  };
}

/** A freeform tool's call: https://platform.openai.com/docs/guides/function-calling#custom-tools */
function responseCustomToolCall(tool: ResponsesCall, id: string, words: string[]): ResponseItem {
  const text = toolArguments(words, tool.input);
  const namespace = tool.namespace === undefined ? {} : { namespace: tool.namespace };
  const item = { id: `ctc_${id}`, type: 'custom_tool_call', status: 'completed', input: text.json, call_id: `call_${id}`, name: tool.name, ...namespace };
  const at = { item_id: item.id, output_index: 0 };
  return {
    item,
    stream: (event) => [
      event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', input: '' } }),
      ...text.pieces.map((delta) => event('response.custom_tool_call_input.delta', { ...at, delta })),
      event('response.custom_tool_call_input.done', { ...at, input: text.json }),
      event('response.output_item.done', { output_index: 0, item }),
    ],
  };
}

function responseOutput(body: Json, id: string, words: string[]): ResponseItem {
  const tool = responsesToolToCall(body);
  if (tool === undefined) return responseMessage(id, words);
  return tool.freeform ? responseCustomToolCall(tool, id, words) : responseFunctionCall(tool, id, words);
}

export const responses: Renderer = (body, { id, created }): Reply => {
  const prompt = promptTokens(body, { cacheWrites: false });
  const { words } = replyWords(body.max_output_tokens);
  const reported = withTier(usage(prompt.total - prompt.cacheRead, prompt.cacheRead, 0, words.length), servedTier(body));
  const output = responseOutput(body, id, words);
  const started = responseObject(body, id, created);
  const completed = { ...started, status: 'completed', output: [output.item], usage: responsesUsage(prompt.total, prompt.cacheRead, words.length) };
  if (body.stream !== true) return { status: 200, json: completed, usage: reported };
  let sequence = 0;
  const event = (type: string, fields: object, report?: Pick<SseOut, 'usage' | 'final'>) =>
    sse(type, { type, sequence_number: sequence++, ...fields }, report);
  const events: SseOut[] = [
    event('response.created', { response: started }),
    event('response.in_progress', { response: started }),
    ...output.stream(event),
    event('response.completed', { response: completed }, { usage: reported, final: true }),
  ];
  return { status: 200, events };
};

function embeddingVector(index: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) => Math.fround(Math.sin(index + i + 1)));
}

/**
 * Headers api.openai.com puts on an answer besides its request id: the account's organization and project,
 * rate limits, and its CDN's cookies and markers.
 */
export function answerHeaders(): Record<string, string | string[]> {
  return {
    'openai-organization': 'org-fake-tollgate-account', 'openai-project': 'proj_fake_tollgate', 'openai-version': '2020-10-01',
    'openai-processing-ms': '42', 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '9999',
    'x-ratelimit-reset-requests': '6ms', 'x-ratelimit-limit-tokens': '30000000', 'x-ratelimit-remaining-tokens': '29999000',
    'x-ratelimit-reset-tokens': '2ms',
    'set-cookie': ['__cf_bm=fake-bm; path=/; domain=.api.openai.com; HttpOnly; Secure; SameSite=None', '_cfuvid=fake-uvid; path=/; domain=.api.openai.com; HttpOnly; Secure; SameSite=None'],
    'cf-ray': '8f00000000000000-SJC', server: 'cloudflare', 'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
  };
}

export const embeddings: Renderer = (body): Reply => {
  const inputs = Array.isArray(body.input) && body.input.every((x) => typeof x === 'string') ? body.input : [body.input];
  const prompt = promptTokens(body, { cacheWrites: false });
  const dimensions = typeof body.dimensions === 'number' ? body.dimensions : EMBEDDING_DIMENSIONS;
  const data = inputs.map((_, index) => {
    const vector = embeddingVector(index, dimensions);
    const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  const json = { object: 'list', data, model: String(body.model), usage: { prompt_tokens: prompt.total, total_tokens: prompt.total } };
  return { status: 200, json, usage: usage(prompt.total, 0, 0, 0) };
};
