import { describe, expect, it } from 'vitest';
import { openai } from '../../../../src/providers/openai/index.js';
import { SseParser } from '../../../../src/providers/sse.js';
import type { NormalizedUsage } from '../../../../src/providers/types.js';

const CHAT_USAGE = {
  prompt_tokens: 2006, completion_tokens: 300, total_tokens: 2306,
  prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 64, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};
const CHAT_NORMALIZED: NormalizedUsage = { input_tokens: 86, cached_input_tokens: 1920, cache_write_tokens: 0, output_tokens: 300 };

const chunk = (fields: object) =>
  JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06', ...fields });

/** A chat stream as OpenAI sends it with include_usage: usage null on every chunk, a usage-only chunk last. */
const CHAT_STREAM = [
  chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], usage: null }),
  chunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }], usage: null }),
  chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }),
  chunk({ choices: [], usage: CHAT_USAGE }),
  '[DONE]',
].map((data) => `data: ${data}\n\n`).join('');

const RESPONSES_USAGE = {
  input_tokens: 5000, input_tokens_details: { cached_tokens: 4096 }, output_tokens: 120,
  output_tokens_details: { reasoning_tokens: 100 }, total_tokens: 5120,
};

function responsesEvent(type: string, fields: object): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: 0, ...fields })}\n\n`;
}

const RESPONSES_STREAM = [
  responsesEvent('response.created', { response: { id: 'resp_1', model: 'o4-mini-2025-04-16', status: 'in_progress', usage: null } }),
  responsesEvent('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' }),
  responsesEvent('response.completed', { response: { id: 'resp_1', model: 'o4-mini-2025-04-16', status: 'completed', usage: RESPONSES_USAGE } }),
].join('');

function readStream(endpoint: string, text: string) {
  const reader = openai.streamReader(endpoint);
  const parser = new SseParser((_raw, event) => event && reader.push(event.event, event.data));
  parser.write(text);
  parser.end();
  return reader.result();
}

describe('openai usage from JSON bodies', () => {
  it('chat: cached tokens come out of prompt_tokens', () => {
    const body = { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-2024-08-06', choices: [], usage: CHAT_USAGE };
    expect(openai.usageFromBody('/chat/completions', body)).toEqual(CHAT_NORMALIZED);
    expect(openai.modelFromBody(body)).toBe('gpt-4o-2024-08-06');
  });

  it('responses: cached tokens come out of input_tokens; reasoning stays in output', () => {
    const body = { id: 'resp_1', object: 'response', model: 'o4-mini', output: [], usage: RESPONSES_USAGE };
    expect(openai.usageFromBody('/responses', body)).toEqual({ input_tokens: 904, cached_input_tokens: 4096, cache_write_tokens: 0, output_tokens: 120 });
  });

  it('embeddings: prompt tokens only', () => {
    const body = { object: 'list', data: [], model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } };
    expect(openai.usageFromBody('/embeddings', body)).toEqual({ input_tokens: 8, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
  });

  it('a usage missing prompt_tokens_details means nothing was cached', () => {
    expect(openai.usageFromBody('/chat/completions', { usage: { prompt_tokens: 10, completion_tokens: 2 } })).toEqual({
      input_tokens: 10, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 2,
    });
  });

  it('null when the body has no usage it recognises, without throwing', () => {
    expect(openai.usageFromBody('/chat/completions', { error: { message: 'x' } })).toBeNull();
    expect(openai.usageFromBody('/chat/completions', { usage: {} })).toBeNull();
    expect(openai.usageFromBody('/chat/completions', 'not json')).toBeNull();
    expect(openai.usageFromBody('/unknown', { usage: CHAT_USAGE })).toBeNull();
  });
});

describe('openai usage reports whose counts are not token counts (issue 16: an upstream reply kills the process)', () => {
  const bad = [10.5, -1, 1e17, 1e13, '12', true, { n: 1 }];

  it('are not taken: usageFromBody is null and badUsage gives the counts as they came', () => {
    for (const value of bad) {
      const body = { usage: { ...CHAT_USAGE, prompt_tokens: value } };
      expect(openai.usageFromBody('/chat/completions', body)).toBeNull();
      expect(openai.badUsage('/chat/completions', body)).toMatchObject({ prompt_tokens: typeof value === 'number' ? value : expect.any(String), completion_tokens: 300, cached_tokens: 1920 });
    }
    expect(openai.usageFromBody('/responses', { usage: { ...RESPONSES_USAGE, input_tokens_details: { cached_tokens: 0.5 } } })).toBeNull();
    expect(openai.badUsage('/chat/completions', { usage: CHAT_USAGE })).toBeUndefined();
    expect(openai.badUsage('/chat/completions', { usage: { prompt_tokens: null, completion_tokens: 2 } })).toBeUndefined();
  });

  it('a trillion tokens is the largest count believed', () => {
    expect(openai.usageFromBody('/embeddings', { usage: { prompt_tokens: 1e12 } })).toMatchObject({ input_tokens: 1e12 });
    expect(openai.usageFromBody('/embeddings', { usage: { prompt_tokens: 1e12 + 1 } })).toBeNull();
  });

  it('text in a count is kept short and without control characters', () => {
    const reported = openai.badUsage('/chat/completions', { usage: { prompt_tokens: `\u0000${'9'.repeat(500)}`, completion_tokens: 1 } });
    expect(String(reported?.prompt_tokens)).not.toMatch(/\p{Cc}/u);
    expect(String(reported?.prompt_tokens).length).toBeLessThanOrEqual(64);
  });

  it('in a stream, leave the call incomplete and say what came', () => {
    const chat = CHAT_STREAM.replace('"completion_tokens":300', '"completion_tokens":3.7');
    expect(readStream('/chat/completions', chat)).toMatchObject({ complete: false, deltas: 1, invalidUsage: { completion_tokens: 3.7 } });
    const responses = RESPONSES_STREAM.replace('"input_tokens":5000', '"input_tokens":1e17');
    expect(readStream('/responses', responses)).toMatchObject({ complete: false, deltas: 1, invalidUsage: { input_tokens: 1e17 } });
  });
});

describe('openai usage from streams', () => {
  it('chat: usage and model from the include_usage stream, complete', () => {
    // deltas: the one chunk with text ('Hi'); the role, finish and usage chunks carry none.
    expect(readStream('/chat/completions', CHAT_STREAM)).toEqual({ usage: CHAT_NORMALIZED, complete: true, servedModel: 'gpt-4o-2024-08-06', deltas: 1 });
  });

  it('chat: a stream cut before the usage chunk is incomplete and reports nothing', () => {
    const cut = CHAT_STREAM.slice(0, CHAT_STREAM.indexOf('"choices":[]'));
    const result = readStream('/chat/completions', cut);
    expect(result.complete).toBe(false);
    expect(result.usage).toEqual({ input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
    expect(result.servedModel).toBe('gpt-4o-2024-08-06');
    expect(result.deltas).toBe(1);
  });

  it('chat: counts the chunks that carry output (text, refusal, tool arguments), not the role or finish ones', () => {
    const text = [
      chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'lookup', arguments: '' } }] } }], usage: null }),
      chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"sku":' } }] } }], usage: null }),
      chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"A1"}' } }] } }], usage: null }),
      chunk({ choices: [{ index: 0, delta: { refusal: 'No.' } }], usage: null }),
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }], usage: null }),
    ].map((data) => `data: ${data}\n\n`).join('');
    expect(readStream('/chat/completions', text)).toMatchObject({ complete: false, deltas: 3 });
  });

  it('responses: a stream cut before response.completed counts its output deltas, with or without event: lines', () => {
    const cut = RESPONSES_STREAM.slice(0, RESPONSES_STREAM.indexOf('event: response.completed'));
    expect(readStream('/responses', cut)).toMatchObject({ complete: false, deltas: 1 });
    expect(readStream('/responses', cut.replace(/^event: .*\n/gm, ''))).toMatchObject({ complete: false, deltas: 1 });
  });

  it('responses: usage from response.completed', () => {
    expect(readStream('/responses', RESPONSES_STREAM)).toEqual({
      usage: { input_tokens: 904, cached_input_tokens: 4096, cache_write_tokens: 0, output_tokens: 120 },
      complete: true,
      servedModel: 'o4-mini-2025-04-16',
      deltas: 1,
    });
  });

  it('responses: response.incomplete (max_output_tokens reached) still reports its usage', () => {
    const text = responsesEvent('response.incomplete', { response: { model: 'o4-mini', status: 'incomplete', usage: RESPONSES_USAGE } });
    expect(readStream('/responses', text)).toMatchObject({ complete: true, usage: { output_tokens: 120 } });
  });

  it('responses: without event: lines, the type in the data is used', () => {
    const text = RESPONSES_STREAM.replace(/^event: .*\n/gm, '');
    expect(readStream('/responses', text)).toMatchObject({ complete: true, usage: { cached_input_tokens: 4096 } });
  });

  it('ignores events that are not JSON', () => {
    expect(readStream('/chat/completions', 'data: {oops\n\ndata: [DONE]\n\n')).toMatchObject({ complete: false });
  });
});

describe('openai isInjectedUsageEvent', () => {
  const events = CHAT_STREAM.split('\n\n').filter(Boolean).map((block) => block.slice('data: '.length));

  it('matches only the usage-only chunk with choices: []', () => {
    expect(events.map((data) => openai.isInjectedUsageEvent(undefined, data))).toEqual([false, false, false, true, false]);
  });

  it('does not match a usage chunk with whitespace-formatted null usage or with choices', () => {
    expect(openai.isInjectedUsageEvent(undefined, '{"choices": [], "usage": null}')).toBe(false);
    expect(openai.isInjectedUsageEvent(undefined, JSON.stringify({ choices: [{ index: 0 }], usage: CHAT_USAGE }))).toBe(false);
    expect(openai.isInjectedUsageEvent(undefined, '{"choices": [], "usage": {"prompt_tokens": 1}}')).toBe(true);
  });
});
