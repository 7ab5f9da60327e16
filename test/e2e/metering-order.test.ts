import http from 'node:http';
import { ConverseStreamCommand, InvokeModelWithResponseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, PROMO, WRITER, type Gateway } from '../helpers/gateway.js';
import type { JournalRecord } from '../../src/metering/types.js';

/**
 * A call's usage event is in the journal before its client can hold the whole answer: a process killed right
 * after must not leave a call its client received in full metered only by its in-flight fallback (the prompt at
 * the estimate, no output). A JSON answer goes out in the one write that ends its response; a stream's client may
 * stop reading at the provider's last event (OpenAI chat's `[DONE]`, a Responses stream's `response.completed`,
 * Anthropic's `message_stop`; in Bedrock's AWS event streams, ConverseStream's `metadata` frame and the chunk frame
 * holding Anthropic's `message_stop`), before the response ends. Seen from inside the gateway's process: the order
 * in which each call's usage event was journaled, the bytes holding its last event were written
 * (`ServerResponse.write` or `end`), and its response was ended.
 */
const LAST_EVENTS = ['data: [DONE]', 'event: response.completed', 'event: message_stop'];
const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Whether a decoded AWS event-stream frame is its stream's last event (ConverseStream's metadata, Anthropic's message_stop). */
function isLastFrame(frame: Uint8Array): boolean {
  const message = codec.decode(frame);
  const type = message.headers[':event-type']?.value;
  if (type === 'metadata') return true;
  if (type !== 'chunk') return false;
  const bytes = (JSON.parse(toUtf8(message.body)) as { bytes?: string }).bytes ?? '';
  return (JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) as { type?: string }).type === 'message_stop';
}

describe('a call is journaled before its answer is complete on the wire', () => {
  let gw: Gateway;
  let writerKey: string;
  let promoKey: string;
  const order: string[] = [];
  const { end, write } = http.ServerResponse.prototype;
  /** The call's id, from the head it set or wrote (Fastify passes its headers to writeHead, which leaves them only there). */
  const idOf = (res: http.ServerResponse): string | undefined => {
    const set = res.getHeader('x-tollgate-request-id');
    if (typeof set === 'string') return set;
    const head = (res as unknown as { _header?: string | null })._header ?? '';
    return /^x-tollgate-request-id: (.+)\r$/im.exec(head)?.[1];
  };
  /** The event-stream bytes each response wrote that do not make a whole frame yet. */
  const unframed = new Map<string, Buffer>();
  const noteLastEvent = (res: http.ServerResponse, chunk: unknown) => {
    const id = idOf(res);
    if (id === undefined) return;
    if (String(res.getHeader('content-type') ?? '').startsWith('application/vnd.amazon.eventstream')) {
      if (!Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) return;
      let bytes = Buffer.concat([unframed.get(id) ?? Buffer.alloc(0), chunk]);
      while (bytes.length >= 4 && bytes.length >= bytes.readUInt32BE(0)) {
        const length = bytes.readUInt32BE(0);
        if (isLastFrame(bytes.subarray(0, length))) order.push(`sent last event ${id}`);
        bytes = bytes.subarray(length);
      }
      unframed.set(id, bytes);
      return;
    }
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    if (LAST_EVENTS.some((marker) => text.includes(marker))) order.push(`sent last event ${id}`);
  };

  beforeAll(async () => {
    gw = await startGateway();
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
    await gw.allow('campaign-writer', ['bedrock/claude-sonnet-4-5']);
    const meter = gw.app.tollgate.meter;
    const record = meter.record.bind(meter);
    meter.record = (r: JournalRecord) => {
      if (r.kind === 'usage') order.push(`journaled ${r.request_id}`);
      record(r);
    };
    http.ServerResponse.prototype.write = function (this: http.ServerResponse, ...args: unknown[]) {
      noteLastEvent(this, args[0]);
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...args: unknown[]) {
      noteLastEvent(this, args[0]);
      const id = idOf(this);
      if (id !== undefined) order.push(`ended ${id}`);
      return (end as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    } as typeof end;
  });
  afterAll(async () => {
    Object.assign(http.ServerResponse.prototype, { end, write });
    await gw?.close();
  });

  const journaledFirst = (requestId: string, stream = false) => {
    const journaled = order.indexOf(`journaled ${requestId}`);
    const ended = order.indexOf(`ended ${requestId}`);
    expect(journaled, `no usage event journaled for ${requestId}`).toBeGreaterThanOrEqual(0);
    expect(ended, `no response ended for ${requestId}`).toBeGreaterThanOrEqual(0);
    expect({ requestId, journaledBeforeEnded: journaled < ended }).toEqual({ requestId, journaledBeforeEnded: true });
    if (!stream) return;
    const last = order.indexOf(`sent last event ${requestId}`);
    expect(last, `no last event sent for ${requestId}`).toBeGreaterThanOrEqual(0);
    expect({ requestId, journaledBeforeLastEvent: journaled < last }).toEqual({ requestId, journaledBeforeLastEvent: true });
  };

  it('a JSON answer (OpenAI chat completion, Anthropic message)', async () => {
    const chat = await gw.openai(writerKey, WRITER).chat.completions
      .create({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(chat.data.usage?.total_tokens).toBeGreaterThan(0);
    journaledFirst(chat.response.headers.get('x-tollgate-request-id')!);

    const message = await gw.anthropic(promoKey, PROMO).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(message.data.usage.output_tokens).toBeGreaterThan(0);
    journaledFirst(message.response.headers.get('x-tollgate-request-id')!);
  });

  it('a stream, before its last event (OpenAI chat and Responses, Anthropic server-sent events)', async () => {
    for (const includeUsage of [true, false]) {
      // Without include_usage tollgate asks for the usage chunk itself and keeps it from the client.
      const chat = await gw.openai(writerKey, WRITER).chat.completions
        .create({ model: 'gpt-4.1-mini', max_tokens: 16, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}), messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      let chunks = 0;
      for await (const _ of chat.data) chunks++;
      expect(chunks).toBeGreaterThan(1);
      journaledFirst(chat.response.headers.get('x-tollgate-request-id')!, true);
    }

    const responses = await gw.openai(writerKey, WRITER).responses
      .create({ model: 'gpt-4.1-mini', max_output_tokens: 16, stream: true, input: 'hi' }).withResponse();
    const kinds: string[] = [];
    for await (const event of responses.data) kinds.push(event.type);
    expect(kinds.at(-1)).toBe('response.completed');
    journaledFirst(responses.response.headers.get('x-tollgate-request-id')!, true);

    const message = await gw.anthropic(promoKey, PROMO).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const types: string[] = [];
    for await (const event of message.data) types.push(event.type);
    expect(types.at(-1)).toBe('message_stop');
    journaledFirst(message.response.headers.get('x-tollgate-request-id')!, true);
  });

  it('a Bedrock event stream, before its last frame (ConverseStream, InvokeModelWithResponseStream)', async () => {
    const client = gw.bedrock(writerKey, WRITER);
    const ids: string[] = [];
    client.middlewareStack.add((next) => async (args) => {
      const out = await next(args);
      ids.push((out.response as { headers: Record<string, string> }).headers['x-tollgate-request-id']!);
      return out;
    }, { step: 'deserialize', name: 'tollgateRequestId' });
    const model = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

    const converse = await client.send(new ConverseStreamCommand({ modelId: model, messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 16 } }));
    const kinds: string[] = [];
    for await (const event of converse.stream!) kinds.push(Object.keys(event)[0]!);
    expect(kinds.at(-1)).toBe('metadata');
    journaledFirst(ids.at(-1)!, true);

    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    const invoke = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: model, body, contentType: 'application/json' }));
    const types: string[] = [];
    for await (const event of invoke.body!) types.push((JSON.parse(Buffer.from(event.chunk!.bytes!).toString('utf8')) as { type: string }).type);
    expect(types.at(-1)).toBe('message_stop');
    journaledFirst(ids.at(-1)!, true);
  });
});
