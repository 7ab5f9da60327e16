import { describe, expect, it } from 'vitest';
import { anthropic } from '../../../../src/providers/anthropic/index.js';
import { SseParser } from '../../../../src/providers/sse.js';

function event(type: string, fields: object): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
}

const START_USAGE = { input_tokens: 25, cache_creation_input_tokens: 1200, cache_read_input_tokens: 3000, output_tokens: 1 };
const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], usage: START_USAGE };

const STREAM = [
  event('message_start', { message }),
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  event('ping', {}),
  event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }),
  event('content_block_stop', { index: 0 }),
  event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }),
  event('message_stop', {}),
].join('');

function readStream(text: string) {
  const reader = anthropic.streamReader('/messages');
  const parser = new SseParser((_raw, sse) => sse && reader.push(sse.event, sse.data));
  parser.write(text);
  parser.end();
  return reader.result();
}

describe('anthropic usage from JSON bodies', () => {
  it('messages: cache reads and writes sit beside input_tokens', () => {
    const body = { ...message, content: [{ type: 'text', text: 'Hi' }], usage: { ...START_USAGE, output_tokens: 42 } };
    expect(anthropic.usageFromBody('/messages', body)).toEqual({ input_tokens: 25, cached_input_tokens: 3000, cache_write_tokens: 1200, output_tokens: 42 });
    expect(anthropic.modelFromBody(body)).toBe('claude-sonnet-4-5-20250929');
  });

  it('messages: absent or null cache fields count as zero', () => {
    const usage = { input_tokens: 10, cache_creation_input_tokens: null, output_tokens: 3 };
    expect(anthropic.usageFromBody('/messages', { usage })).toEqual({ input_tokens: 10, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 3 });
  });

  it('count_tokens is free: its answer is not usage', () => {
    expect(anthropic.usageFromBody('/messages/count_tokens', { input_tokens: 1234 })).toEqual({
      input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0,
    });
  });

  it('null for an error body', () => {
    expect(anthropic.usageFromBody('/messages', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })).toBeNull();
  });
});

describe('anthropic usage reports whose counts are not token counts (issue 16: an upstream reply kills the process)', () => {
  it('are not taken from a JSON body: usageFromBody is null and badUsage gives the counts as they came', () => {
    const body = { usage: { ...START_USAGE, output_tokens: 1e17 } };
    expect(anthropic.usageFromBody('/messages', body)).toBeNull();
    expect(anthropic.badUsage('/messages', body)).toEqual({ input_tokens: 25, cache_read_input_tokens: 3000, cache_creation_input_tokens: 1200, output_tokens: 1e17 });
    expect(anthropic.badUsage('/messages', { usage: START_USAGE })).toBeUndefined();
    expect(anthropic.badUsage('/messages/count_tokens', { input_tokens: 0.5 })).toBeUndefined();
  });

  it('in a stream, the valid counts are kept and the bad one is reported', () => {
    const text = STREAM.replace('"output_tokens":15', '"output_tokens":3.7');
    expect(readStream(text)).toMatchObject({
      usage: { input_tokens: 25, cached_input_tokens: 3000, cache_write_tokens: 1200, output_tokens: 1 },
      deltas: 1,
      invalidUsage: { output_tokens: 3.7 },
    });
  });
});

describe('anthropic usage from streams', () => {
  it('input and cache from message_start, output from message_delta', () => {
    expect(readStream(STREAM)).toEqual({
      usage: { input_tokens: 25, cached_input_tokens: 3000, cache_write_tokens: 1200, output_tokens: 15 },
      complete: true,
      servedModel: 'claude-sonnet-4-5-20250929',
      deltas: 1,
    });
  });

  it('takes the latest non-null counts when message_delta repeats them (newer API versions)', () => {
    const delta = { delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 30, cache_read_input_tokens: null, cache_creation_input_tokens: 1300, output_tokens: 15 } };
    const text = event('message_start', { message }) + event('message_delta', delta);
    expect(readStream(text).usage).toEqual({ input_tokens: 30, cached_input_tokens: 3000, cache_write_tokens: 1300, output_tokens: 15 });
  });

  it('a stream cut after message_start keeps the input counts and is incomplete', () => {
    expect(readStream(STREAM.slice(0, STREAM.indexOf('event: content_block_delta')))).toEqual({
      usage: { input_tokens: 25, cached_input_tokens: 3000, cache_write_tokens: 1200, output_tokens: 1 },
      complete: false,
      servedModel: 'claude-sonnet-4-5-20250929',
      deltas: 0,
    });
  });

  it('an error event mid-stream leaves the usage incomplete', () => {
    const text = event('message_start', { message }) + event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(readStream(text).complete).toBe(false);
  });

  it('never drops events: tollgate injects nothing into Anthropic requests', () => {
    expect(anthropic.isInjectedUsageEvent('message_delta', JSON.stringify({ type: 'message_delta', usage: { output_tokens: 1 } }))).toBe(false);
  });
});
