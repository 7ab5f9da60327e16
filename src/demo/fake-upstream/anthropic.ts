import { promptTokens, replyWords, sse, usage, type PromptTokens, type Renderer, type Reply, type SseOut } from './wire.js';

/** Anthropic's wire formats: https://docs.anthropic.com/en/api/messages, .../messages-streaming, .../messages-count-tokens */

function wireUsage(prompt: PromptTokens, output: number) {
  return {
    input_tokens: prompt.fresh,
    cache_creation_input_tokens: prompt.cacheWrite,
    cache_read_input_tokens: prompt.cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: prompt.cacheWrite, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  };
}

export function errorJson(type: string, message: string, requestId?: string) {
  return { type: 'error', error: { type, message }, ...(requestId === undefined ? {} : { request_id: requestId }) };
}

export const messages: Renderer = (body, { id }): Reply => {
  if (typeof body.max_tokens !== 'number') {
    return { status: 400, json: errorJson('invalid_request_error', 'max_tokens: Field required'), usage: usage(0, 0, 0, 0) };
  }
  const prompt = promptTokens(body, { cacheWrites: true });
  const { words, truncated } = replyWords(body.max_tokens);
  const stopReason = truncated ? 'max_tokens' : 'end_turn';
  const reportedAt = (output: number) => usage(prompt.fresh, prompt.cacheRead, prompt.cacheWrite, output);
  const message = { id: `msg_${id}`, type: 'message', role: 'assistant', model: String(body.model) };
  if (body.stream !== true) {
    const content = [{ type: 'text', text: words.join('') }];
    const json = { ...message, content, stop_reason: stopReason, stop_sequence: null, usage: wireUsage(prompt, words.length) };
    return { status: 200, json, usage: reportedAt(words.length) };
  }
  const { output_tokens: _output, service_tier: _tier, cache_creation: _split, ...totals } = wireUsage(prompt, words.length);
  const event = (type: string, fields: object, report?: Pick<SseOut, 'usage' | 'final'>) => sse(type, { type, ...fields }, report);
  const start = { ...message, content: [], stop_reason: null, stop_sequence: null, usage: wireUsage(prompt, 1) };
  const events: SseOut[] = [
    event('message_start', { message: start }, { usage: reportedAt(1) }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('ping', {}),
    ...words.map((text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
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
