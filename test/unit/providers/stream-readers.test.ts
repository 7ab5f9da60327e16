import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../../src/demo/fake-upstream.js';
import { PROVIDERS } from '../../../src/providers/registry.js';
import { createSseTap } from '../../../src/providers/sse.js';

/** The adapters' readers, fed by the tap, over real bytes from the fake upstream, agree with its tally. */

let up: FakeUpstream;
beforeAll(async () => {
  up = await startFakeUpstream({ openaiKey: 'sk-o', anthropicKey: 'sk-a' });
});
afterAll(() => up.close());
beforeEach(() => up.reset());

const HEADERS: Record<string, Record<string, string>> = {
  openai: { authorization: 'Bearer sk-o' },
  anthropic: { 'x-api-key': 'sk-a', 'anthropic-version': '2023-06-01' },
};

async function throughTap(provider: string, endpoint: string, clientBody: Record<string, unknown>) {
  const adapter = PROVIDERS[provider]!;
  const { body, injectedUsage } = adapter.prepareBody(endpoint, clientBody, 'served-model');
  const res = await fetch(`${up.url}/v1${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...HEADERS[provider] },
    body: JSON.stringify(body),
  });
  const reader = adapter.streamReader(endpoint);
  // After each event: whether the reader says the stream's last event has arrived.
  const ended: (boolean | undefined)[] = [];
  const tap = createSseTap({
    onEvent: (event, data) => {
      reader.push(event, data);
      ended.push(reader.ended?.());
    },
    drop: injectedUsage ? (event, data) => adapter.isInjectedUsageEvent(event, data) : undefined,
  });
  const forwarded: Buffer[] = [];
  tap.on('data', (chunk: Buffer) => forwarded.push(chunk));
  const error = await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap).catch((e: unknown) => e);
  return { result: reader.result(), tools: reader.tools(), forwarded: Buffer.concat(forwarded).toString('utf8'), injectedUsage, error, ended };
}

/** The reader said the stream ended at its last event, and not before. */
function endsAtLast(ended: (boolean | undefined)[]): boolean {
  return ended.length > 1 && ended.at(-1) === true && ended.slice(0, -1).every((e) => e === false);
}

describe('stream readers over the fake upstream', () => {
  it('openai chat: tollgate asks for usage, reads it, and keeps the usage chunk from the client', async () => {
    const prompt = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: '[cache] twelve chars' }] };
    const { result, forwarded, injectedUsage, ended } = await throughTap('openai', '/chat/completions', prompt);
    expect(injectedUsage).toBe(true);
    expect(endsAtLast(ended)).toBe(true); // at [DONE]
    // The fake streams one token per chunk, as the providers mostly do: one delta per output token.
    expect(result).toEqual({ usage: up.usageLog[0]?.usage, complete: true, servedModel: 'served-model', deltas: up.usageLog[0]?.usage.output_tokens });
    expect(result.usage.cached_input_tokens).toBeGreaterThan(0);
    expect(forwarded).not.toContain('"choices":[]');
    expect(forwarded).toContain('"usage":null');
    expect(forwarded.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('openai responses: usage from response.completed, every event forwarded', async () => {
    const { result, forwarded, ended } = await throughTap('openai', '/responses', { model: 'm', stream: true, input: '[cache] hello there' });
    expect(result).toMatchObject({ usage: up.usageLog[0]?.usage, complete: true });
    expect(endsAtLast(ended)).toBe(true); // at response.completed
    expect(forwarded).toContain('event: response.completed');
  });

  it('anthropic messages: usage from message_start and message_delta', async () => {
    const body = { model: 'm', stream: true, max_tokens: 12, messages: [{ role: 'user', content: '[cache-write] [cache] x' }] };
    const { result, ended } = await throughTap('anthropic', '/messages', body);
    expect(result).toEqual({ usage: up.usageLog[0]?.usage, complete: true, servedModel: 'served-model', deltas: 12 });
    expect(endsAtLast(ended)).toBe(true); // at message_stop
    expect(result.usage).toMatchObject({ output_tokens: 12 });
    expect(result.usage.cache_write_tokens).toBeGreaterThan(0);
  });

  it('a stream cut mid-way leaves the reader incomplete with what the fake reported', async () => {
    up.script({ fault: 'cut', afterEvents: 4 });
    const body = { model: 'm', stream: true, max_tokens: 12, messages: [{ role: 'user', content: 'abcdefgh' }] };
    const { result, error, ended } = await throughTap('anthropic', '/messages', body);
    expect(error).toBeInstanceOf(Error);
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.some((e) => e === true)).toBe(false); // its last event never came
    expect(up.usageLog[0]).toMatchObject({ outcome: 'cut', complete: false });
    expect(result).toMatchObject({ usage: up.usageLog[0]?.usage, complete: false });
    expect(result.usage).toMatchObject({ input_tokens: 2, output_tokens: 1 });
  });

  it('read the name of the tool the answer calls, streamed by each provider, and usage as without tools', async () => {
    const fn = { type: 'function', function: { name: 'inventory_lookup', parameters: {} } };
    // tool_choice names a tool the request did not declare: what the reader reports comes from the answer.
    const chat = await throughTap('openai', '/chat/completions', {
      model: 'm', stream: true, messages: [{ role: 'user', content: 'stock?' }], tools: [fn], tool_choice: { type: 'function', function: { name: 'sales_history' } },
    });
    expect(chat.tools).toEqual(['sales_history']);
    expect(chat.result).toMatchObject({ usage: up.usageLog[0]?.usage, complete: true });
    const responses = await throughTap('openai', '/responses', { model: 'm', stream: true, input: 'stock?', tools: [{ type: 'function', name: 'promo_calendar' }] });
    expect(responses.tools).toEqual(['promo_calendar']);
    const messages = await throughTap('anthropic', '/messages', {
      model: 'm', stream: true, max_tokens: 12, messages: [{ role: 'user', content: 'stock?' }], tools: [{ name: 'weather_outlook', input_schema: {} }],
    });
    expect(messages.tools).toEqual(['weather_outlook']);
    expect(messages.result).toMatchObject({ usage: up.usageLog[2]?.usage, complete: true });
    expect(messages.result.usage.output_tokens).toBe(12);
  });
});
