import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, PROMO, WRITER, type Gateway } from '../helpers/gateway.js';
import type { NormalizedUsage } from '../../src/providers/types.js';
import type { UsageRecord } from '../../src/demo/fake-upstream.js';
import { promptTokens } from '../../src/gateway/estimate.js';

const ZERO: NormalizedUsage = { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 };
const LONG_PROMPT = 'draft the promotion brief for the spring aisle, with the regional split, in full';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function tokensOf(row: Record<string, unknown>): NormalizedUsage {
  return {
    input_tokens: Number(row.input_tokens), cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens), output_tokens: Number(row.output_tokens),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => expect.fail('the call should have failed'), (err: unknown) => err);
}

/**
 * A port nothing listens on. Not one bound and released: the kernel can hand that port to the next
 * `listen(0)`, a fake upstream or gateway of a test file running alongside, and the "unreachable" call is then
 * answered (seen once in CI, Postgres run). A port below the ephemeral range, which no `listen(0)` is given,
 * that refuses a connection now.
 */
async function closedPort(): Promise<number> {
  for (const port of [1, 9, 13, 17, 19, 39, 47]) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('no closed port below the ephemeral range on 127.0.0.1');
}

/**
 * Runs one call and returns its single ledger row: exactly one usage event recorded by the meter for it
 * (the unique request_id would hide a second one in the table, so the meter's count is checked too).
 */
function ledger(gw: () => Gateway) {
  return async function oneRow(call: () => Promise<string>): Promise<Record<string, unknown>> {
    const usageRecorded = () => gw().app.tollgate.meter.stats().recordedByKind.usage;
    const before = usageRecorded();
    const totalBefore = await countRows(gw());
    const requestId = await call();
    expect(requestId).toBeTruthy();
    await waitFor('the call to be metered', () => (usageRecorded() > before ? true : undefined));
    await sleep(50); // room for a second, wrong, event to show up
    await gw().flush();
    expect(usageRecorded() - before).toBe(1);
    const rows = await gw().app.tollgate.db('usage_events').where('request_id', requestId);
    expect(rows).toHaveLength(1);
    expect(await countRows(gw())).toBe(totalBefore + 1);
    return rows[0] as Record<string, unknown>;
  };
}

async function countRows(gw: Gateway): Promise<number> {
  await gw.flush();
  const [row] = await gw.app.tollgate.db('usage_events').count<{ n: string }[]>('* as n');
  return Number(row!.n);
}

/**
 * After an aborted request, Node's fetch (undici) opens a fresh keep-alive socket that never sends a
 * request, and the gateway's app.close() waits for it indefinitely (reported; see the hand-back notes).
 * Returns a function that destroys such never-used sockets so that close() can finish.
 */
function silentSockets(gw: Gateway): () => void {
  const sockets = new Set<net.Socket>();
  gw.app.server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return () => {
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
  };
}

function requestIdOf(err: unknown): string {
  return (err as { headers: Headers }).headers.get('x-tollgate-request-id')!;
}

describe('upstream faults', () => {
  let gw: Gateway;
  let writerKey: string;
  let promoKey: string;
  let dropSilentSockets: (() => void) | undefined;
  const oneRow = ledger(() => gw);

  beforeAll(async () => {
    gw = await startGateway();
    dropSilentSockets = silentSockets(gw);
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
  });
  afterAll(async () => {
    dropSilentSockets?.();
    await gw?.close();
  });

  const lastRecord = (): UsageRecord => gw.upstream.usageLog.at(-1)!;

  it('passes an upstream 500 through to the OpenAI SDK, with its body, and meters it once', async () => {
    gw.upstream.script({ fault: 'error', status: 500, message: 'upstream exploded (test)' });
    let err: unknown;
    const row = await oneRow(async () => {
      err = await rejection(gw.openai(writerKey, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }));
      return requestIdOf(err);
    });
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toEqual({ message: 'upstream exploded (test)', type: 'server_error', param: null, code: null });
    expect(lastRecord()).toMatchObject({ status: 500, outcome: 'error' });
    expect(row).toMatchObject({ status: 500, partial: false, model_served: 'gpt-4.1-mini' });
    expect(tokensOf(row)).toEqual(ZERO);
    expect(Number(row.cost)).toBe(0);
  });

  it('passes an upstream 429 through to the Anthropic SDK, with its body and headers, and meters it once', async () => {
    gw.upstream.script({ fault: 'error', status: 429, message: 'slow down (test)', headers: { 'retry-after': '7' } });
    let err: unknown;
    const row = await oneRow(async () => {
      err = await rejection(gw.anthropic(promoKey, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }));
      return requestIdOf(err);
    });
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down (test)' } });
    expect(e.headers?.get('retry-after')).toBe('7');
    expect(row).toMatchObject({ status: 429, partial: false });
    expect(tokensOf(row)).toEqual(ZERO);
  });

  it('meters an Anthropic stream cut after three events as partial, with the input tokens message_start carried', async () => {
    gw.upstream.script({ fault: 'cut', afterEvents: 3 });
    const row = await oneRow(async () => {
      const { data, response } = await gw.anthropic(promoKey, PROMO).messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] })
        .withResponse();
      const events: string[] = [];
      const err = await rejection((async () => { for await (const ev of data) events.push(ev.type); })());
      expect(err).toBeInstanceOf(Error);
      expect(events[0]).toBe('message_start');
      expect(events).not.toContain('message_stop');
      return response.headers.get('x-tollgate-request-id')!;
    });
    const wire = lastRecord();
    expect(wire).toMatchObject({ outcome: 'cut', complete: false });
    expect(wire.usage.input_tokens).toBeGreaterThan(0);
    expect(row).toMatchObject({ status: 200, partial: true });
    expect(tokensOf(row)).toEqual(wire.usage);
  });

  it('meters an OpenAI stream cut before its usage chunk as partial: the prompt at its estimate, a token per delta sent', async () => {
    gw.upstream.script({ fault: 'cut', afterEvents: 3 });
    const params = { model: 'gpt-4.1-mini', stream: true as const, messages: [{ role: 'user' as const, content: LONG_PROMPT }] };
    let texts = 0;
    const row = await oneRow(async () => {
      const { data, response } = await gw.openai(writerKey, WRITER).chat.completions.create(params).withResponse();
      const err = await rejection((async () => { for await (const chunk of data) if (chunk.choices[0]?.delta.content) texts++; })());
      expect(err).toBeInstanceOf(Error);
      return response.headers.get('x-tollgate-request-id')!;
    });
    // The upstream reported nothing (its usage comes last); billing zero would let a client that drops its
    // streams spend without limit. The prompt is metered at the reservation's estimate (a token per 4 bytes
    // of the request body), the output at one token per text delta that went through.
    expect(lastRecord()).toMatchObject({ outcome: 'cut', complete: false, usage: ZERO });
    expect(texts).toBeGreaterThan(0);
    expect(row).toMatchObject({ status: 200, partial: true });
    expect(tokensOf(row)).toEqual({ ...ZERO, input_tokens: promptTokens(params), output_tokens: texts });
    expect(Number(row.cost)).toBeGreaterThan(0);
  });

  it('answers a JSON answer cut mid-body with 502 upstream_unreachable in each provider\'s shape, not half a document, and meters it as partial', async () => {
    gw.upstream.script({ fault: 'cut', afterEvents: 0 });
    const params = { model: 'gpt-4.1-mini', messages: [{ role: 'user' as const, content: LONG_PROMPT }] };
    let openaiErr: unknown;
    const openaiRow = await oneRow(async () => {
      openaiErr = await rejection(gw.openai(writerKey, WRITER).chat.completions.create(params));
      return requestIdOf(openaiErr);
    });
    const oe = openaiErr as InstanceType<typeof OpenAI.APIError>;
    expect(oe.status).toBe(502);
    expect(oe.code).toBe('upstream_unreachable');
    expect(oe.message).toContain('broke off before its end');
    expect(lastRecord()).toMatchObject({ outcome: 'cut', status: 200 });
    // Billed by the provider as far as it got: the upstream's status, partial, the prompt at tollgate's estimate.
    expect(openaiRow).toMatchObject({ status: 200, partial: true });
    expect(tokensOf(openaiRow)).toEqual({ ...ZERO, input_tokens: promptTokens(params) });

    gw.upstream.script({ fault: 'cut', afterEvents: 0 });
    let anthropicErr: unknown;
    const anthropicRow = await oneRow(async () => {
      anthropicErr = await rejection(gw.anthropic(promoKey, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: LONG_PROMPT }] }));
      return requestIdOf(anthropicErr);
    });
    const ae = anthropicErr as InstanceType<typeof Anthropic.APIError>;
    expect(ae.status).toBe(502);
    expect(ae.error).toEqual({ type: 'error', error: { type: 'api_error', message: "The provider's answer broke off before its end.", code: 'upstream_unreachable' } });
    expect(anthropicRow).toMatchObject({ status: 200, partial: true });
    expect(Number(anthropicRow.input_tokens)).toBeGreaterThan(0);
  });

  it('meters an Anthropic stream that ends in an error event as partial', async () => {
    gw.upstream.script({ fault: 'stream-error', afterEvents: 4, type: 'overloaded_error', message: 'Overloaded (test)' });
    const row = await oneRow(async () => {
      const { data, response } = await gw.anthropic(promoKey, PROMO).messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] })
        .withResponse();
      const err = await rejection((async () => { for await (const _ev of data); })());
      expect(String(err)).toContain('Overloaded (test)');
      return response.headers.get('x-tollgate-request-id')!;
    });
    expect(lastRecord()).toMatchObject({ outcome: 'stream-error', complete: false });
    expect(row).toMatchObject({ status: 200, partial: true });
    expect(tokensOf(row)).toEqual(lastRecord().usage);
    expect(row.input_tokens).not.toBe(0);
  });

  it('meters an Anthropic stream the client aborts: partial, status 200, the prompt as reported, a token per delta sent', async () => {
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 60 });
    const row = await oneRow(async () => {
      const controller = new AbortController();
      const { data, response } = await gw.anthropic(promoKey, PROMO).messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 20, stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] }, { signal: controller.signal })
        .withResponse();
      // The SDK ends the iteration quietly when its own signal aborts it.
      const seen: string[] = [];
      for await (const ev of data) {
        seen.push(ev.type);
        if (seen.filter((t) => t === 'content_block_delta').length === 2) controller.abort();
      }
      expect(seen).not.toContain('message_stop');
      return response.headers.get('x-tollgate-request-id')!;
    });
    // The gateway let go of the upstream too: the fake noticed its client (tollgate) was gone.
    const wire = await waitFor('the upstream to see the connection closed', () => (lastRecord().outcome === 'client-closed' ? lastRecord() : undefined));
    expect(wire.complete).toBe(false);
    expect(wire.usage.input_tokens).toBeGreaterThan(0);
    expect(row).toMatchObject({ status: 200, partial: true });
    // message_start reported the prompt (and 1 output token); the deltas that went through are the output:
    // the two the client read, and at most the one in flight when it left.
    const metered = tokensOf(row);
    expect({ ...metered, output_tokens: 0 }).toEqual({ ...wire.usage, output_tokens: 0 });
    expect(metered.output_tokens).toBeGreaterThanOrEqual(2);
    expect(metered.output_tokens).toBeLessThanOrEqual(3);
  });

  it('meters a call whose client left before the upstream answered: 499, partial, the prompt at its estimate', async () => {
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 0, latencyMs: 400 });
    const tags = { ...WRITER, session_id: 'sess-left-before-answer' };
    const params = { model: 'gpt-4.1-mini', messages: [{ role: 'user' as const, content: LONG_PROMPT }] };
    const db = gw.app.tollgate.db;
    const err = await rejection(gw.openai(writerKey, tags).chat.completions.create(params, { signal: AbortSignal.timeout(100), maxRetries: 0 }));
    expect(err).toBeInstanceOf(OpenAI.APIUserAbortError);
    const row = await waitFor('the call to be metered', async () => {
      await gw.flush();
      return (await db('usage_events').where({ session_id: tags.session_id }).first()) as Record<string, unknown> | undefined;
    });
    // The provider had the prompt; nothing came back to say what it billed.
    expect(row).toMatchObject({ status: 499, partial: true });
    expect(tokensOf(row)).toEqual({ ...ZERO, input_tokens: promptTokens(params) });
    // The answer the upstream sends after that does not meter the call a second time.
    await sleep(500);
    await gw.flush();
    expect(Number((await db('usage_events').where({ session_id: tags.session_id }).count<{ n: string }[]>('* as n'))[0]!.n)).toBe(1);
  });

  it('meters an OpenAI stream the client aborts the same way, its prompt at the estimate', async () => {
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 60 });
    const params = { model: 'gpt-4.1-mini', stream: true as const, messages: [{ role: 'user' as const, content: LONG_PROMPT }] };
    let texts = 0;
    const row = await oneRow(async () => {
      const { data, response } = await gw.openai(writerKey, WRITER).chat.completions.create(params).withResponse();
      let chunks = 0;
      for await (const chunk of data) {
        if (chunk.choices[0]?.delta.content) texts++;
        if (++chunks === 3) data.controller.abort();
      }
      expect(chunks).toBe(3);
      return response.headers.get('x-tollgate-request-id')!;
    });
    const wire = await waitFor('the upstream to see the connection closed', () => (lastRecord().outcome === 'client-closed' ? lastRecord() : undefined));
    expect(wire.usage).toEqual(ZERO);
    expect(row).toMatchObject({ status: 200, partial: true });
    const metered = tokensOf(row);
    expect({ ...metered, output_tokens: 0 }).toEqual({ ...ZERO, input_tokens: promptTokens(params) });
    expect(metered.output_tokens).toBeGreaterThanOrEqual(texts);
    expect(metered.output_tokens).toBeLessThanOrEqual(texts + 1);
  });
});

describe('an upstream that does not answer', () => {
  let gw: Gateway;
  let writerKey: string;
  let promoKey: string;
  const oneRow = ledger(() => gw);

  beforeAll(async () => {
    gw = await startGateway({ TOLLGATE_UPSTREAM_TIMEOUT_MS: 500 });
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
  });
  afterAll(async () => gw?.close());

  it('answers 504 upstream_timeout in the OpenAI shape and meters one row with status 504', async () => {
    gw.upstream.script({ fault: 'hang' });
    let err: unknown;
    const row = await oneRow(async () => {
      err = await rejection(gw.openai(writerKey, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }));
      return requestIdOf(err);
    });
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(504);
    expect(e.error).toEqual({ message: expect.any(String), type: 'server_error', param: null, code: 'upstream_timeout' });
    expect(gw.upstream.usageLog.at(-1)).toMatchObject({ outcome: 'hung' });
    expect(row).toMatchObject({ status: 504, partial: false });
    expect(tokensOf(row)).toEqual(ZERO);
  });

  it('answers 504 upstream_timeout in the Anthropic shape, for a stream too', async () => {
    gw.upstream.script({ fault: 'hang' });
    let err: unknown;
    const row = await oneRow(async () => {
      err = await rejection(gw.anthropic(promoKey, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
      return requestIdOf(err);
    });
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.status).toBe(504);
    expect(e.error).toEqual({ type: 'error', error: { type: 'timeout_error', message: expect.any(String), code: 'upstream_timeout' } });
    expect(row).toMatchObject({ status: 504, partial: false });
  });
});

describe('an unreachable upstream', () => {
  let gw: Gateway;
  const oneRow = ledger(() => gw);

  beforeAll(async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    gw = await startGateway({ TOLLGATE_OPENAI_BASE_URL: dead, TOLLGATE_ANTHROPIC_BASE_URL: dead });
  });
  afterAll(async () => gw?.close());

  it('answers 502 upstream_unreachable in each provider\'s shape and meters one row with status 502', async () => {
    const writerKey = await gw.key('campaign-writer');
    const promoKey = await gw.key('promo-planner');
    let openaiErr: unknown;
    const openaiRow = await oneRow(async () => {
      openaiErr = await rejection(gw.openai(writerKey, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }));
      return requestIdOf(openaiErr);
    });
    expect((openaiErr as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((openaiErr as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_unreachable');
    expect(openaiRow).toMatchObject({ status: 502, partial: false });

    let anthropicErr: unknown;
    const anthropicRow = await oneRow(async () => {
      anthropicErr = await rejection(gw.anthropic(promoKey, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }));
      return requestIdOf(anthropicErr);
    });
    const ae = anthropicErr as InstanceType<typeof Anthropic.APIError>;
    expect(ae.status).toBe(502);
    expect(ae.error).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String), code: 'upstream_unreachable' } });
    expect(anthropicRow).toMatchObject({ status: 502, partial: false });
    expect(tokensOf(anthropicRow)).toEqual(ZERO);
    expect(gw.upstream.requests).toHaveLength(0);
  });
});
