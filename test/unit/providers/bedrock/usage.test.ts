import { describe, expect, it } from 'vitest';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { badUsage, modelFromBody, streamReader, usageFromBody } from '../../../../src/providers/bedrock/usage.js';
import { createEventStreamTap } from '../../../../src/providers/event-stream.js';

const ZERO = { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 };
const converseAnswer = (usage: unknown) => ({ output: { message: { role: 'assistant', content: [{ text: 'hi' }] } }, stopReason: 'end_turn', usage, metrics: { latencyMs: 9 } });

describe('Converse usage', () => {
  it('takes inputTokens as the fresh input, with cache reads and writes apart', () => {
    const usage = usageFromBody('/converse', converseAnswer({ inputTokens: 10, outputTokens: 20, totalTokens: 100, cacheReadInputTokens: 60, cacheWriteInputTokens: 10 }));
    expect(usage).toEqual({ input_tokens: 10, cached_input_tokens: 60, cache_write_tokens: 10, output_tokens: 20 });
  });

  it('finds none in an answer without a report, and refuses a count that is not one, saying what it was', () => {
    expect(usageFromBody('/converse', converseAnswer(undefined))).toBeNull();
    const bad = converseAnswer({ inputTokens: -1, outputTokens: 2 });
    expect(usageFromBody('/converse', bad)).toBeNull();
    expect(badUsage('/converse', bad)).toEqual({ inputTokens: -1, outputTokens: 2 });
  });

  it('reads InvokeModel answers as Anthropic messages', () => {
    const message = { type: 'message', model: 'claude-sonnet-4-5-20250929', content: [], usage: { input_tokens: 5, output_tokens: 7, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 } };
    expect(usageFromBody('/invoke', message)).toEqual({ input_tokens: 5, cached_input_tokens: 3, cache_write_tokens: 2, output_tokens: 7 });
    expect(modelFromBody(message)).toBe('claude-sonnet-4-5-20250929');
  });
});

describe('ConverseStream reader', () => {
  it('counts deltas, names tools, and completes on the metadata event', () => {
    const reader = streamReader('/converse-stream');
    reader.push('messageStart', '{"role":"assistant"}');
    reader.push('contentBlockStart', '{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t1","name":"get_weather"}}}');
    reader.push('contentBlockDelta', '{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{}"}}}');
    reader.push('contentBlockDelta', '{"contentBlockIndex":0,"delta":{"text":"x"}}');
    expect(reader.result()).toMatchObject({ complete: false, deltas: 2, usage: ZERO });
    reader.push('messageStop', '{"stopReason":"tool_use"}');
    expect(reader.ended?.()).toBe(false);
    reader.push('metadata', '{"usage":{"inputTokens":4,"outputTokens":2,"totalTokens":9,"cacheReadInputTokens":3},"metrics":{"latencyMs":1}}');
    expect(reader.result()).toMatchObject({ complete: true, usage: { input_tokens: 4, cached_input_tokens: 3, cache_write_tokens: 0, output_tokens: 2 } });
    expect(reader.tools()).toEqual(['get_weather']);
    // The metadata event is the stream's last: nothing billed follows it.
    expect(reader.ended?.()).toBe(true);
  });

  it('flags a metadata report that holds no counts', () => {
    const reader = streamReader('/converse-stream');
    reader.push('metadata', '{"usage":{"inputTokens":"many","outputTokens":2}}');
    expect(reader.result()).toMatchObject({ complete: false, invalidUsage: { inputTokens: '"many"', outputTokens: 2 } });
  });
});

const chunk = (event: object) => JSON.stringify({ bytes: Buffer.from(JSON.stringify(event)).toString('base64') });

describe('InvokeModelWithResponseStream reader', () => {
  it('reads the Anthropic events in the chunks, and Bedrock\'s invocation metrics last', () => {
    const reader = streamReader('/invoke-with-response-stream');
    reader.push('chunk', chunk({ type: 'message_start', message: { model: 'claude-haiku-4-5', usage: { input_tokens: 8, output_tokens: 1 } } }));
    reader.push('chunk', chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'a' } }));
    expect(reader.result()).toMatchObject({ complete: false, deltas: 1, usage: { input_tokens: 8, output_tokens: 1 } });
    reader.push('chunk', chunk({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 6 } }));
    expect(reader.ended?.()).toBe(false);
    reader.push('chunk', chunk({
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': { inputTokenCount: 8, outputTokenCount: 6, invocationLatency: 30, firstByteLatency: 5, cacheReadInputTokenCount: 4, cacheWriteInputTokenCount: 2 },
    }));
    expect(reader.result()).toMatchObject({ complete: true, servedModel: 'claude-haiku-4-5', usage: { input_tokens: 8, cached_input_tokens: 4, cache_write_tokens: 2, output_tokens: 6 } });
    // Anthropic's message_stop, which carries Bedrock's metrics, is the stream's last event.
    expect(reader.ended?.()).toBe(true);
  });

  it('ignores what is not a chunk of base64 JSON', () => {
    const reader = streamReader('/invoke-with-response-stream');
    reader.push('chunk', '{"bytes":"not base64 json"}');
    reader.push('other', chunk({ type: 'message_start', message: { usage: { input_tokens: 8 } } }));
    expect(reader.result()).toMatchObject({ complete: false, usage: ZERO });
  });
});

describe('the event-stream tap', () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frame = (kind: 'event' | 'exception', type: string, payload: object) => codec.encode({
    headers: { ':message-type': { type: 'string', value: kind }, [kind === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type } },
    body: fromUtf8(JSON.stringify(payload)),
  });

  it('passes the bytes through untouched and reports each frame, however the stream is sliced', async () => {
    const bytes = Buffer.concat([frame('event', 'messageStart', { role: 'assistant' }), frame('event', 'metadata', { usage: { inputTokens: 1 } }), frame('exception', 'throttlingException', { message: 'slow down' })]);
    const events: [string | undefined, string][] = [];
    const exceptions: (string | undefined)[] = [];
    const tap = createEventStreamTap({ onEvent: (type, payload) => events.push([type, payload]), onException: (type) => exceptions.push(type) });
    const out: Buffer[] = [];
    tap.on('data', (b: Buffer) => out.push(b));
    for (let i = 0; i < bytes.length; i += 7) tap.write(bytes.subarray(i, i + 7));
    tap.end();
    await new Promise((resolve) => tap.once('end', resolve));
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
    expect(events).toEqual([['messageStart', '{"role":"assistant"}'], ['metadata', '{"usage":{"inputTokens":1}}']]);
    expect(exceptions).toEqual(['throttlingException']);
  });

  it('reads the same frames, in order and each once, whatever the slices (1 byte, many frames, random cuts)', async () => {
    // Payloads of many sizes, so that frames cross slice boundaries at every offset, their length prefix included.
    const sent = Array.from({ length: 60 }, (_, i) => ({ i, text: 'x'.repeat((i * 37) % 300) }));
    const bytes = Buffer.concat(sent.map((p) => frame('event', 'contentBlockDelta', p)));
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const slicings: number[][] = [
      Array.from({ length: bytes.length }, (_, i) => i + 1),
      [bytes.length],
      Array.from({ length: 40 }, () => Math.floor(random() * bytes.length)).sort((a, b) => a - b).concat(bytes.length),
    ];
    for (const cuts of slicings) {
      const events: string[] = [];
      const tap = createEventStreamTap({ onEvent: (_type, payload) => events.push(payload), onException: () => {} });
      const out: Buffer[] = [];
      tap.on('data', (b: Buffer) => out.push(b));
      let from = 0;
      for (const to of cuts) {
        if (to > from) tap.write(bytes.subarray(from, to));
        from = Math.max(from, to);
      }
      tap.end();
      await new Promise((resolve) => tap.once('end', resolve));
      expect(Buffer.concat(out).equals(bytes)).toBe(true);
      expect(events.map((e) => JSON.parse(e) as unknown)).toEqual(sent);
    }
  });

  it('reports every frame a chunk completes before that chunk goes on, so the last event is heard before it is sent', async () => {
    const frames = [frame('event', 'messageStart', { role: 'assistant' }), frame('event', 'contentBlockDelta', { delta: { text: 'a' } }), frame('event', 'metadata', { usage: { inputTokens: 1 } })];
    const bytes = Buffer.concat(frames);
    const seen: string[] = [];
    const tap = createEventStreamTap({ onEvent: (type) => seen.push(`event ${type}`), onException: () => {} });
    let passed = 0;
    tap.on('data', (b: Buffer) => {
      passed += b.length;
      seen.push(`bytes to ${passed}`);
    });
    // Slices that end inside frames, and one that completes two frames at once.
    const cuts = [3, frames[0]!.length + 5, bytes.length - 2, bytes.length];
    let from = 0;
    for (const to of cuts) {
      tap.write(bytes.subarray(from, to));
      from = to;
    }
    tap.end();
    await new Promise((resolve) => tap.once('end', resolve));
    expect(seen).toEqual([
      'bytes to 3',
      'event messageStart',
      `bytes to ${cuts[1]}`,
      'event contentBlockDelta',
      `bytes to ${cuts[2]}`,
      'event metadata',
      `bytes to ${bytes.length}`,
    ]);
  });

  it('fails a stream that ends inside a frame, and a frame that claims a length no frame has, before setting memory aside for it', async () => {
    const bytes = Buffer.from(frame('event', 'messageStart', {}));
    const truncated = createEventStreamTap({ onEvent: () => {}, onException: () => {} });
    const cut = new Promise<Error>((resolve) => truncated.once('error', resolve));
    truncated.on('data', () => {});
    truncated.end(bytes.subarray(0, bytes.length - 1));
    expect((await cut).message).toMatch(/ended 15 bytes into a frame|Truncated/);

    for (const length of [0, 15, 0xffffffff]) {
      const claim = Buffer.alloc(12);
      claim.writeUInt32BE(length, 0);
      const tap = createEventStreamTap({ onEvent: () => {}, onException: () => {} });
      const failed = new Promise<Error>((resolve) => tap.once('error', resolve));
      const out: Buffer[] = [];
      tap.on('data', (b: Buffer) => out.push(b));
      tap.write(claim);
      expect((await failed).message).toMatch(/claims \d+ bytes/);
      expect(out).toEqual([]);
    }
  });

  it('fails on a frame whose checksum is wrong', async () => {
    const bytes = Buffer.from(frame('event', 'messageStart', {}));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    const tap = createEventStreamTap({ onEvent: () => {}, onException: () => {} });
    const failed = new Promise((resolve) => tap.once('error', resolve));
    tap.on('data', () => {});
    tap.end(bytes);
    expect(await failed).toBeInstanceOf(Error);
  });
});
