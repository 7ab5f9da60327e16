import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, PROMO, WRITER, type Gateway } from '../helpers/gateway.js';
import type { JournalRecord } from '../../src/metering/types.js';

/**
 * A call's usage event is in the journal before its response is ended: a JSON answer goes out in that one write,
 * so a process killed right after it must not leave a call its client received in full metered only by its
 * in-flight fallback (the prompt at the estimate, no output). A stream's closing chunk comes after its usage is
 * journaled too (its last events may be sent before: README, How it works). Seen from inside the gateway's
 * process: the order in which each call's usage event was journaled and its response was ended
 * (`ServerResponse.end`).
 */
describe('a call is journaled before its answer is complete on the wire', () => {
  let gw: Gateway;
  let writerKey: string;
  let promoKey: string;
  const order: string[] = [];
  const end = http.ServerResponse.prototype.end;

  beforeAll(async () => {
    gw = await startGateway();
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
    const meter = gw.app.tollgate.meter;
    const record = meter.record.bind(meter);
    meter.record = (r: JournalRecord) => {
      if (r.kind === 'usage') order.push(`journaled ${r.request_id}`);
      record(r);
    };
    http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...args: unknown[]) {
      // Fastify passes its headers to writeHead, which leaves them only in the head it wrote (or is about to).
      const head = (this as unknown as { _header?: string | null })._header ?? '';
      const id = this.getHeader('x-tollgate-request-id') ?? /^x-tollgate-request-id: (.+)\r$/im.exec(head)?.[1];
      if (typeof id === 'string') order.push(`ended ${id}`);
      return (end as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    } as typeof end;
  });
  afterAll(async () => {
    http.ServerResponse.prototype.end = end;
    await gw?.close();
  });

  const journaledFirst = (requestId: string) => {
    const journaled = order.indexOf(`journaled ${requestId}`);
    const ended = order.indexOf(`ended ${requestId}`);
    expect(journaled, `no usage event journaled for ${requestId}`).toBeGreaterThanOrEqual(0);
    expect(ended, `no response ended for ${requestId}`).toBeGreaterThanOrEqual(0);
    expect({ requestId, journaledBeforeEnded: journaled < ended }).toEqual({ requestId, journaledBeforeEnded: true });
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

  it('a stream (OpenAI and Anthropic server-sent events)', async () => {
    const chat = await gw.openai(writerKey, WRITER).chat.completions
      .create({ model: 'gpt-4.1-mini', max_tokens: 16, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    let chunks = 0;
    for await (const _ of chat.data) chunks++;
    expect(chunks).toBeGreaterThan(1);
    journaledFirst(chat.response.headers.get('x-tollgate-request-id')!);

    const message = await gw.anthropic(promoKey, PROMO).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const types: string[] = [];
    for await (const event of message.data) types.push(event.type);
    expect(types.at(-1)).toBe('message_stop');
    journaledFirst(message.response.headers.get('x-tollgate-request-id')!);
  });
});
