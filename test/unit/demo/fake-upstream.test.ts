import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream, type UsageRecord } from '../../../src/demo/fake-upstream.js';

const OPENAI_KEY = 'sk-fake-openai';
const ANTHROPIC_KEY = 'sk-ant-fake';
// 44 characters → 11 prompt tokens; "[cache]" makes 5 of them cache reads.
const CACHED_PROMPT = '[cache] summarise the quarterly promo plan!!';

let up: FakeUpstream;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  up = await startFakeUpstream({ openaiKey: OPENAI_KEY, anthropicKey: ANTHROPIC_KEY });
  openai = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${up.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: up.url, maxRetries: 0 });
});
afterAll(() => up.close());
beforeEach(() => up.reset());

function onlyRecord(): UsageRecord {
  expect(up.usageLog).toHaveLength(1);
  return up.usageLog[0]!;
}

describe('fake upstream, OpenAI chat completions', () => {
  it('answers a non-streamed call with usage that counts cached tokens inside prompt_tokens', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: CACHED_PROMPT }] });
    expect(res.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 5 } });
    expect(res.choices[0]?.message.content?.split(' ')).toHaveLength(20);
    expect(onlyRecord()).toMatchObject({
      outcome: 'ok', status: 200, complete: true,
      usage: { input_tokens: 6, cached_input_tokens: 5, cache_write_tokens: 0, output_tokens: 20 },
    });
  });

  it('streams with include_usage: usage: null on content chunks, then a usage-only chunk with choices: []', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini', max_completion_tokens: 7, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: CACHED_PROMPT }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null && chunk.choices.length === 1)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('').split(' ')).toHaveLength(7);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length');
    const record = onlyRecord();
    expect(record).toMatchObject({ stream: true, complete: true, outcome: 'ok' });
    expect(last.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 5 } });
    expect(record.usage).toEqual({ input_tokens: 6, cached_input_tokens: 5, cache_write_tokens: 0, output_tokens: 7 });
  });

  it('streams without include_usage: no usage field at all, and the tally says no usage was reported', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((chunk) => !('usage' in chunk) && chunk.choices.length === 1)).toBe(true);
    expect(onlyRecord()).toMatchObject({ complete: false, outcome: 'ok', usage: { input_tokens: 0, output_tokens: 0 } });
  });
});

describe('fake upstream, OpenAI chat completions with n answers', () => {
  it('answers n choices and bills every one of them', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', n: 3, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(res.usage?.completion_tokens).toBe(15);
    expect(onlyRecord().usage.output_tokens).toBe(15);
  });

  it('streams each choice under its index, with the usage of all of them at the end', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini', n: 2, max_tokens: 4, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }],
    });
    const text = ['', ''];
    let completion = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices) text[c.index] += c.delta.content ?? '';
      completion = chunk.usage?.completion_tokens ?? completion;
    }
    expect(text.map((t) => t.split(' ').length)).toEqual([4, 4]);
    expect(completion).toBe(8);
  });
});

describe('fake upstream, answer headers', () => {
  it('sends what the providers send: request ids, account names, rate limits and cookies', async () => {
    const { response } = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('openai-organization')).toBeTruthy();
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBeTruthy();
    expect(response.headers.getSetCookie()).toHaveLength(2);
    const msg = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(msg.response.headers.get('anthropic-organization-id')).toBeTruthy();
    expect(msg.response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('3999');
    expect(msg.response.headers.get('request-id')).toBeTruthy();
  });
});

describe('fake upstream, OpenAI responses and embeddings', () => {
  it('answers a non-streamed response with output_text and usage', async () => {
    const res = await openai.responses.create({ model: 'gpt-4.1-mini', input: CACHED_PROMPT, max_output_tokens: 16 });
    expect(res.output_text.split(' ')).toHaveLength(16);
    expect(res.usage).toMatchObject({ input_tokens: 11, output_tokens: 16, input_tokens_details: { cached_tokens: 5 } });
    expect(onlyRecord().usage).toEqual({ input_tokens: 6, cached_input_tokens: 5, cache_write_tokens: 0, output_tokens: 16 });
  });

  it('streams a response that the SDK stream helper accumulates, with usage in response.completed', async () => {
    const stream = openai.responses.stream({ model: 'gpt-4.1-mini', input: [{ role: 'user', content: CACHED_PROMPT }] });
    const types: string[] = [];
    stream.on('event', (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(final.output_text.split(' ')).toHaveLength(20);
    expect(final.usage).toMatchObject({ input_tokens: 11, output_tokens: 20, input_tokens_details: { cached_tokens: 5 } });
    expect(onlyRecord()).toMatchObject({ complete: true, usage: { input_tokens: 6, cached_input_tokens: 5, output_tokens: 20 } });
  });

  it('streams a response through create({ stream: true })', async () => {
    const stream = await openai.responses.create({ model: 'gpt-4.1-mini', input: 'hello', stream: true });
    let completedUsage: unknown;
    let text = '';
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completedUsage = event.response.usage;
    }
    expect(text.split(' ')).toHaveLength(20);
    expect(completedUsage).toMatchObject({ input_tokens: 2, output_tokens: 20 });
    expect(onlyRecord().usage).toEqual({ input_tokens: 2, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 20 });
  });

  it('answers embeddings in the base64 form the SDK asks for by default', async () => {
    const res = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['abcd', 'efghijkl'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[1]?.embedding).toHaveLength(8);
    expect(res.data[0]?.embedding[0]).toBeCloseTo(Math.sin(1), 5);
    expect(res.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(onlyRecord().usage).toEqual({ input_tokens: 4, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
  });
});

describe('fake upstream, Anthropic messages', () => {
  const prompt = '[cache] [cache-write] plan the demand forecast for Q3';

  it('answers a non-streamed message with cache reads and writes beside input_tokens', async () => {
    const res = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 9, messages: [{ role: 'user', content: prompt }] });
    // 53 characters → 14 tokens: 7 cache reads, 3 cache writes, 4 fresh.
    expect(res.usage).toMatchObject({ input_tokens: 4, cache_read_input_tokens: 7, cache_creation_input_tokens: 3, output_tokens: 9 });
    expect(res.stop_reason).toBe('max_tokens');
    expect(onlyRecord().usage).toEqual({ input_tokens: 4, cached_input_tokens: 7, cache_write_tokens: 3, output_tokens: 9 });
  });

  it('streams the documented event sequence, which the SDK MessageStream accumulates', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: prompt }] });
    const types: string[] = [];
    stream.on('streamEvent', (event) => types.push(event.type));
    const final = await stream.finalMessage();
    expect(types.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(final.usage).toMatchObject({ input_tokens: 4, cache_read_input_tokens: 7, cache_creation_input_tokens: 3, output_tokens: 20 });
    expect(onlyRecord()).toMatchObject({ complete: true, usage: { input_tokens: 4, cached_input_tokens: 7, cache_write_tokens: 3, output_tokens: 20 } });
  });

  it('counts tokens for free', async () => {
    const res = await anthropic.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: prompt }] });
    expect(res.input_tokens).toBe(14);
    expect(onlyRecord()).toMatchObject({ counted: 14, usage: { input_tokens: 0, output_tokens: 0 } });
  });

  it('refuses a wrong key in Anthropic\'s error shape', async () => {
    const wrong = new Anthropic({ apiKey: 'nope', baseURL: up.url, maxRetries: 0 });
    const err = await wrong.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});

describe('fake upstream, recording and faults', () => {
  it('records method, path, headers and parsed body', async () => {
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]).toMatchObject({
      method: 'POST', path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${OPENAI_KEY}` },
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
  });

  it('refuses a wrong OpenAI key with 401 in OpenAI\'s shape', async () => {
    const wrong = new OpenAI({ apiKey: 'nope', baseURL: `${up.url}/v1`, maxRetries: 0 });
    const err = await wrong.embeddings.create({ model: 'e', input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect(onlyRecord()).toMatchObject({ status: 401, outcome: 'error', complete: false });
  });

  it('fails the next matching call with a scripted 500, surfacing as the SDK\'s APIError, then recovers', async () => {
    up.script({ fault: 'error', status: 500, path: '/v1/chat/completions', message: 'boom' });
    const err = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 500, type: 'server_error', message: expect.stringContaining('boom') });
    const ok = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(ok.usage?.completion_tokens).toBe(20);
    expect(up.usageLog.map((r) => r.outcome)).toEqual(['error', 'ok']);
  });

  it('aims a fault with match at the call whose body contains it, letting calls before it through', async () => {
    up.script({ fault: 'error', status: 503, path: '/v1/chat/completions', match: '#target#' });
    const other = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'another call' }] });
    expect(other.usage?.completion_tokens).toBe(20);
    const err = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '#target# this one' }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503 });
    const again = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: '#target# once only' }] });
    expect(again.usage?.completion_tokens).toBe(20);
    expect(up.usageLog.map((r) => r.outcome)).toEqual(['ok', 'error', 'ok']);
  });

  it('answers a scripted 529 with Anthropic\'s overloaded_error', async () => {
    up.script({ fault: 'error', status: 529 });
    const err = await anthropic.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ status: 529, error: { type: 'error', error: { type: 'overloaded_error' } } });
  });

  it('cuts a stream after K events: the SDK errors and the tally keeps only what was sent', async () => {
    up.script({ fault: 'cut', afterEvents: 3 });
    const stream = anthropic.messages.stream({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'abcdefgh' }] });
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(onlyRecord()).toMatchObject({
      outcome: 'cut', complete: false,
      usage: { input_tokens: 2, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 1 },
    });
  });

  it('cuts an OpenAI chat stream before its usage chunk', async () => {
    up.script({ fault: 'cut', afterEvents: 2 });
    const stream = await openai.chat.completions.create({
      model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }],
    });
    const seen: unknown[] = [];
    await expect((async () => { for await (const chunk of stream) seen.push(chunk); })()).rejects.toThrow();
    expect(seen).toHaveLength(2);
    expect(onlyRecord()).toMatchObject({ outcome: 'cut', complete: false, usage: { input_tokens: 0, output_tokens: 0 } });
  });

  it('cutting at or past the last event still drops the connection, after the full usage report', async () => {
    up.script({ fault: 'cut', afterEvents: 1_000 });
    const res = await fetch(`${up.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'm', max_tokens: 3, stream: true, messages: [{ role: 'user', content: 'abcd' }] }),
    });
    await expect(res.text()).rejects.toThrow();
    expect(onlyRecord()).toMatchObject({ outcome: 'cut', complete: true, usage: { input_tokens: 1, output_tokens: 3 } });
  });

  it('sends a provider error event mid-stream, which the SDK raises', async () => {
    up.script({ fault: 'stream-error', afterEvents: 1, type: 'overloaded_error', message: 'Overloaded' });
    const stream = anthropic.messages.stream({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'abcd' }] });
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError);
    expect(onlyRecord()).toMatchObject({ outcome: 'stream-error', usage: { input_tokens: 1, output_tokens: 1 } });
  });

  it('holds a hung request until the client gives up', async () => {
    up.script({ fault: 'hang' });
    const controller = new AbortController();
    const pending = openai.embeddings.create({ model: 'e', input: 'x' }, { signal: controller.signal }).catch((e: unknown) => e);
    await expect.poll(() => up.usageLog[0]?.outcome).toBe('hung');
    controller.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(up.usageLog[0]?.status).toBe(0);
  });

  it('applies a fault to `times` matching calls and leaves other paths alone', async () => {
    up.script({ fault: 'error', status: 429, path: '/v1/embeddings', times: 2 });
    await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    for (let i = 0; i < 3; i++) await openai.embeddings.create({ model: 'e', input: 'x' }).catch(() => undefined);
    expect(up.usageLog.map((r) => `${r.path} ${r.status}`)).toEqual([
      '/v1/chat/completions 200', '/v1/embeddings 429', '/v1/embeddings 429', '/v1/embeddings 200',
    ]);
  });

  it('exposes the same control surface over HTTP', async () => {
    const script = await fetch(`${up.url}/_fake/script`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fault: 'error', status: 503 }),
    });
    expect(script.status).toBe(204);
    await openai.embeddings.create({ model: 'e', input: 'x' }).catch(() => undefined);
    const usage = (await (await fetch(`${up.url}/_fake/usage`)).json()) as UsageRecord[];
    const requests = (await (await fetch(`${up.url}/_fake/requests`)).json()) as { path: string }[];
    expect(usage.map((r) => r.status)).toEqual([503]);
    expect(requests.map((r) => r.path)).toEqual(['/v1/embeddings']);
    const bad = await fetch(`${up.url}/_fake/script`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fault: 'explode' }),
    });
    expect(bad.status).toBe(400);
    expect((await fetch(`${up.url}/_fake/reset`, { method: 'POST' })).status).toBe(204);
    expect(up.requests).toHaveLength(0);
  });
});
