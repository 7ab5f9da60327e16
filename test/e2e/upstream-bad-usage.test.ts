import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { seedDemo } from '../../src/catalog/seed.js';
import { insertAgentKey } from '../../src/db/agent-keys.js';
import { createDb, migrateLatest, type Db } from '../../src/db/knex.js';
import { startFakeUpstream, type FakeUpstream, type FaultScript } from '../../src/demo/fake-upstream.js';
import { generateAgentKey } from '../../src/identity/keys.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { startGateway, tagHeaders, PROMO, UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY, WRITER, type Gateway } from '../helpers/gateway.js';
import { startTollgateProcess, type TollgateProcess } from '../helpers/tollgate-process.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * Issue 16, item 1: "An upstream reply kills the process". Usage with a fractional or huge token count threw
 * `RangeError: token count is not a safe integer` from pricing inside a stream `end` listener, which nothing
 * caught. Each reply here is what a faulty provider sends, through the official SDKs; the call is still metered
 * (as if the provider had reported no usage: the prompt at tollgate's estimate, the output deltas that went
 * through), its row is flagged `usage_invalid`, and a stream in flight meanwhile completes and is metered.
 */

const PROMPT = 'summarise the regional promotion results for the spring aisle';

type Row = Record<string, unknown> & { flags: string[] | null };

async function ledgerRow(gw: Gateway, requestId: string): Promise<Row> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await gw.flush();
    const row = (await gw.app.tollgate.db('usage_events').where({ request_id: requestId }).first()) as Row | undefined;
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`no ledger row for ${requestId}`);
    await sleep(25);
  }
}

const estimate = (params: object) => promptTokens(params);
const tokens = (row: Row) => ({ input: Number(row.input_tokens), cached: Number(row.cached_input_tokens), write: Number(row.cache_write_tokens), output: Number(row.output_tokens) });

describe('an upstream reply with token counts that are not token counts', () => {
  let gw: Gateway;
  let writerKey: string;
  let promoKey: string;
  let inFlight: Promise<{ requestId: string; events: string[] }>;

  beforeAll(async () => {
    gw = await startGateway();
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
    // A stream that is still going while every faulty reply below is metered.
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 60, path: '/v1/messages' });
    const requests = gw.upstream.requests.length;
    inFlight = (async () => {
      const { data, response } = await gw.anthropic(promoKey, { ...PROMO, session_id: 'sess-in-flight' }).messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 20, stream: true, messages: [{ role: 'user', content: PROMPT }] })
        .withResponse();
      const events: string[] = [];
      for await (const ev of data) events.push(ev.type);
      return { requestId: response.headers.get('x-tollgate-request-id')!, events };
    })();
    while (gw.upstream.requests.length === requests) await sleep(10);
  });
  afterAll(async () => gw?.close());

  it('an upstream reply kills the process: a fractional prompt_tokens in an OpenAI chat JSON answer is metered from the estimate, flagged', async () => {
    gw.upstream.script({ fault: 'usage', usage: { prompt_tokens: 10.5 }, path: '/v1/chat/completions' });
    const params = { model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user' as const, content: PROMPT }] };
    const { data, response } = await gw.openai(writerKey, WRITER).chat.completions.create(params).withResponse();
    expect(data.usage?.prompt_tokens).toBe(10.5); // the client gets the answer untouched
    const row = await ledgerRow(gw, response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['usage_invalid'] });
    expect(tokens(row)).toEqual({ input: estimate(params), cached: 0, write: 0, output: 0 });
    expect(Number(row.cost)).toBeGreaterThan(0);
  });

  it('an upstream reply kills the process: 3.7 completion tokens in the final chunk of an OpenAI chat stream', async () => {
    gw.upstream.script({ fault: 'usage', usage: { completion_tokens: 3.7 }, path: '/v1/chat/completions' });
    const params = { model: 'gpt-4.1-mini', max_tokens: 16, stream: true as const, messages: [{ role: 'user' as const, content: PROMPT }] };
    const { data, response } = await gw.openai(writerKey, WRITER).chat.completions.create(params).withResponse();
    let texts = 0;
    for await (const chunk of data) if (chunk.choices[0]?.delta.content) texts++;
    expect(texts).toBe(16);
    const row = await ledgerRow(gw, response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['usage_invalid'] });
    // include_usage was tollgate's own request: the estimate for the prompt, a token per delta for the output.
    expect(tokens(row)).toEqual({ input: promptTokens(params), cached: 0, write: 0, output: 16 });
  });

  it('an upstream reply kills the process: input_tokens 1e17 in an OpenAI Responses stream', async () => {
    gw.upstream.script({ fault: 'usage', usage: { input_tokens: 1e17 }, path: '/v1/responses' });
    const params = { model: 'gpt-4.1-mini', max_output_tokens: 12, stream: true as const, input: PROMPT };
    const { data, response } = await gw.openai(writerKey, WRITER).responses.create(params).withResponse();
    const types: string[] = [];
    for await (const ev of data) types.push(ev.type);
    expect(types.at(-1)).toBe('response.completed');
    const row = await ledgerRow(gw, response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['usage_invalid'] });
    expect(tokens(row)).toEqual({ input: estimate(params), cached: 0, write: 0, output: 12 });
  });

  it('an upstream reply kills the process: a negative output_tokens in an Anthropic JSON answer', async () => {
    gw.upstream.script({ fault: 'usage', usage: { output_tokens: -5, input_tokens: '12' }, path: '/v1/messages' });
    const params = { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user' as const, content: PROMPT }] };
    const { response } = await gw.anthropic(promoKey, PROMO).messages.create(params).withResponse();
    const row = await ledgerRow(gw, response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['usage_invalid'] });
    expect(tokens(row)).toEqual({ input: estimate(params), cached: 0, write: 0, output: 0 });
  });

  it('an upstream reply kills the process: 3.7 output tokens in the message_delta of an Anthropic stream', async () => {
    gw.upstream.script({ fault: 'usage', usage: { output_tokens: 3.7 }, path: '/v1/messages' });
    const params = { model: 'claude-haiku-4-5', max_tokens: 16, stream: true as const, messages: [{ role: 'user' as const, content: PROMPT }] };
    const { data, response } = await gw.anthropic(promoKey, PROMO).messages.create(params).withResponse();
    let deltas = 0;
    for await (const ev of data) if (ev.type === 'content_block_delta') deltas++;
    const row = await ledgerRow(gw, response.headers.get('x-tollgate-request-id')!);
    const wire = gw.upstream.usageLog.at(-1)!;
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['usage_invalid'] });
    // message_start's counts were valid and are kept; the output is the deltas that went through.
    expect(tokens(row)).toEqual({ input: wire.usage.input_tokens, cached: wire.usage.cached_input_tokens, write: wire.usage.cache_write_tokens, output: deltas });
  });

  it('keeps serving and metering the calls in flight meanwhile', async () => {
    const { requestId, events } = await inFlight;
    expect(events.at(-1)).toBe('message_stop');
    const row = await ledgerRow(gw, requestId);
    expect(row).toMatchObject({ status: 200, partial: false, flags: null, output_tokens: 20 });
    expect(await fetch(`${gw.url}/healthz`).then((r) => r.status)).toBe(200);
  });
});

/**
 * The same faulty replies against `tollgate serve` as a process of its own: in the test runner an uncaught
 * exception is caught by vitest, in production it ends the process. The process must still be up afterwards,
 * the stream it was serving meanwhile must end whole, and every call must be in its ledger.
 */
describe('a tollgate process facing faulty usage reports', () => {
  let upstream: FakeUpstream;
  let proc: TollgateProcess;
  let pg: TestDb | undefined;
  let pgliteDir: string | undefined;
  let key: string;

  /** The database the process uses, opened by the test (PGlite: only while the process is not running). */
  const openDb = (): Db => (pg ? pg.db : createDb({ kind: 'pglite', dataDir: pgliteDir! }));

  beforeAll(async () => {
    upstream = await startFakeUpstream({ openaiKey: UPSTREAM_OPENAI_KEY, anthropicKey: UPSTREAM_ANTHROPIC_KEY });
    if (TEST_DB_KIND === 'postgres') pg = await createTestDb();
    else pgliteDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bad-usage-pglite-'));
    const db = openDb();
    await migrateLatest(db);
    await seedDemo(db);
    const k = generateAgentKey();
    await insertAgentKey(db, { id: k.id, agentId: PROMO.agent_id, hash: k.hash, prefix: k.prefix });
    key = k.key;
    if (!pg) await db.destroy();
    proc = await startTollgateProcess({ name: 'bad-usage', databaseUrl: pg?.url, pgliteDir, upstreamUrl: upstream.url });
  }, 120_000);
  afterAll(async () => {
    await proc?.close();
    await upstream?.close();
    await pg?.drop();
    if (pgliteDir) fs.rmSync(pgliteDir, { recursive: true, force: true });
  });

  it('an upstream reply kills the process: it stays up, finishes the stream in flight and meters every call, flagged', async () => {
    const headers = tagHeaders({ ...PROMO, session_id: 'sess-bad-usage-process' });
    const openai = new OpenAI({ apiKey: key, baseURL: `${proc.url}/openai/v1`, maxRetries: 0, defaultHeaders: headers });
    const anthropic = new Anthropic({ apiKey: key, baseURL: `${proc.url}/anthropic`, maxRetries: 0, defaultHeaders: headers });
    const messages = [{ role: 'user' as const, content: PROMPT }];

    upstream.script({ fault: 'slow', chunkDelayMs: 100, path: '/v1/messages' });
    const inFlight = anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, stream: true, messages }).withResponse();
    const faulty: [FaultScript, () => Promise<{ response: Response }>][] = [
      [{ fault: 'usage', usage: { prompt_tokens: 10.5 }, path: '/v1/chat/completions' }, () => openai.chat.completions.create({ model: 'gpt-4.1-mini', max_tokens: 8, messages }).withResponse()],
      [{ fault: 'usage', usage: { completion_tokens: 3.7 }, path: '/v1/chat/completions' }, async () => {
        const r = await openai.chat.completions.create({ model: 'gpt-4.1-mini', max_tokens: 8, stream: true, messages }).withResponse();
        for await (const _ of r.data);
        return r;
      }],
      [{ fault: 'usage', usage: { input_tokens: 1e17 }, path: '/v1/responses' }, () => openai.responses.create({ model: 'gpt-4.1-mini', max_output_tokens: 8, input: PROMPT }).withResponse()],
      [{ fault: 'usage', usage: { output_tokens: 1e17 }, path: '/v1/messages' }, () => anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages }).withResponse()],
      [{ fault: 'usage', usage: { output_tokens: 3.7 }, path: '/v1/messages' }, async () => {
        const r = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, stream: true, messages }).withResponse();
        for await (const _ of r.data);
        return r;
      }],
    ];
    while (upstream.requests.length === 0) await sleep(10);
    const ids: string[] = [];
    for (const [script, call] of faulty) {
      upstream.script(script);
      const { response } = await call();
      ids.push(response.headers.get('x-tollgate-request-id')!);
    }
    const { data, response } = await inFlight;
    const events: string[] = [];
    for await (const ev of data) events.push(ev.type);
    expect(events.at(-1)).toBe('message_stop');
    expect(await fetch(`${proc.url}/healthz`).then((r) => r.status)).toBe(200);
    expect(proc.pid).toBeDefined();

    await proc.close(); // graceful: the meter flushes before the process exits
    const db = openDb();
    try {
      const rows = (await db('usage_events').whereIn('request_id', [...ids, response.headers.get('x-tollgate-request-id')!])) as Row[];
      const byId = new Map(rows.map((r) => [r.request_id as string, r]));
      expect(ids.map((id) => byId.get(id)?.flags)).toEqual(ids.map(() => ['usage_invalid']));
      expect(byId.get(response.headers.get('x-tollgate-request-id')!)).toMatchObject({ flags: null, partial: false, output_tokens: 20 });
    } finally {
      if (!pg) await db.destroy();
    }
  }, 120_000);
});
