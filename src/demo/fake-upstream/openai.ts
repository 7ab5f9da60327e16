import { promptTokens, replyWords, sse, toolArguments, usage, type Renderer, type Reply, type SseOut } from './wire.js';

/**
 * OpenAI's wire formats: https://platform.openai.com/docs/api-reference (chat, responses, embeddings). A request
 * that declares function tools (tool_choice not 'none') is answered with a call of the one tool_choice names, else
 * of the first declared; https://platform.openai.com/docs/guides/function-calling.
 */

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null ? (value as Json) : undefined);

/** Chat tools nest the name under `function`; Responses tools carry it themselves. */
function functionName(tool: Json | undefined): string | undefined {
  if (tool?.type !== 'function') return undefined;
  const name = tool.name ?? record(tool.function)?.name;
  return typeof name === 'string' ? name : undefined;
}

export function toolToCall(body: Json): string | undefined {
  if (body.tool_choice === 'none' || !Array.isArray(body.tools)) return undefined;
  const chosen = functionName(record(body.tool_choice));
  if (chosen !== undefined) return chosen;
  for (const tool of body.tools as unknown[]) {
    const name = functionName(record(tool));
    if (name !== undefined) return name;
  }
  return undefined;
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

function chatToolCall(name: string, id: string, words: string[], truncated: boolean): ChatAnswer {
  const args = toolArguments(words);
  const call = { id: `call_${id}`, type: 'function', function: { name, arguments: args.json } };
  const opening = { index: 0, id: call.id, type: 'function', function: { name, arguments: '' } };
  return {
    message: { role: 'assistant', content: null, refusal: null, annotations: [], tool_calls: [call] },
    finish: truncated ? 'length' : 'tool_calls',
    deltas: [
      { role: 'assistant', content: null, refusal: null, tool_calls: [opening] },
      ...args.pieces.map((piece) => ({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
    ],
  };
}

/** `n` answers (https://platform.openai.com/docs/api-reference/chat/create#chat-create-n), each billed in full. */
function answerCount(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 1;
}

export const chatCompletions: Renderer = (body, { id, created }): Reply => {
  const prompt = promptTokens(body, { cacheWrites: false });
  const { words, truncated } = replyWords(body.max_completion_tokens ?? body.max_tokens);
  const tool = toolToCall(body);
  const answer = tool === undefined ? chatText(words, truncated) : chatToolCall(tool, id, words, truncated);
  const model = String(body.model);
  const n = answerCount(body.n);
  const reported = usage(prompt.total - prompt.cacheRead, prompt.cacheRead, 0, words.length * n);
  const wireUsage = chatUsage(prompt.total, prompt.cacheRead, words.length * n);
  const base = { id: `chatcmpl-${id}`, created, model, system_fingerprint: 'fp_fake', service_tier: 'default' };
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

function responseFunctionCall(name: string, id: string, words: string[]): ResponseItem {
  const args = toolArguments(words);
  const item = { id: `fc_${id}`, type: 'function_call', status: 'completed', arguments: args.json, call_id: `call_${id}`, name };
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

export const responses: Renderer = (body, { id, created }): Reply => {
  const prompt = promptTokens(body, { cacheWrites: false });
  const { words } = replyWords(body.max_output_tokens);
  const reported = usage(prompt.total - prompt.cacheRead, prompt.cacheRead, 0, words.length);
  const tool = toolToCall(body);
  const output = tool === undefined ? responseMessage(id, words) : responseFunctionCall(tool, id, words);
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
