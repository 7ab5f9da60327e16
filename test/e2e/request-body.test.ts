import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setBudget, startGateway, tagHeaders, PROMO, type Gateway, type Tags } from '../helpers/gateway.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * Issue 16 items 6 and 8: the prompt estimate counts the text received (a chunked body has no content-length);
 * a body nested deeper than 128 levels is a 400 at parse, and only what was forwarded is metered; an output
 * limit that is not a whole number in range is a 400 naming the field, not a 500 or a silent default.
 */

const INVENTORY: Tags = { bu: 'supply-chain', use_case: 'inventory-management', agent_id: 'inventory-optimizer', session_id: 'sess-body-1' };

let gw: Gateway;
let keys: Record<string, string>;

beforeAll(async () => {
  gw = await startGateway();
  keys = { 'promo-planner': await gw.key('promo-planner'), 'inventory-optimizer': await gw.key('inventory-optimizer') };
});
afterAll(async () => gw?.close());

function lines(tags: Tags, extra: [string, string][] = []): [string, string][] {
  return [['content-type', 'application/json'], ['authorization', `Bearer ${keys[tags.agent_id]}`], ['anthropic-version', '2023-06-01'], ...Object.entries(tagHeaders(tags)), ...extra];
}

const send = (path: string, tags: Tags, body: string) => rawRequest(gw.url, { path, headers: lines(tags), body });

/** An 800 KB prompt, sent in 64 KB chunks with Transfer-Encoding: chunked (no content-length). */
function chunkedPrompt(): { chunks: Buffer[]; prompt: number } {
  const params = { model: 'gpt-4.1-mini', max_tokens: 8, messages: [{ role: 'user', content: 'p'.repeat(800_000) }] };
  const body = Buffer.from(JSON.stringify(params));
  const chunks = [];
  for (let i = 0; i < body.length; i += 65_536) chunks.push(body.subarray(i, i + 65_536));
  return { chunks, prompt: promptTokens(params) };
}

async function rowsFor(res: RawResponse) {
  await gw.flush();
  const id = String(res.headers['x-tollgate-request-id']);
  const db = gw.app.tollgate.db;
  return { usage: await db('usage_events').where('request_id', id), decisions: await db('decision_log').where('request_id', id), inflight: await db('inflight_calls').where('request_id', id) };
}

function expectInvalid(res: RawResponse, message: RegExp) {
  expect(res.status, res.body).toBe(400);
  const error = (res.json() as { error: { code: string; message: string } }).error;
  expect(error.code).toBe('invalid_request');
  expect(error.message).toMatch(message);
}

describe('chunked bodies', () => {
  it('estimate the prompt from the text received: 800 KB chunked does not fit a 100,000-token budget', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: INVENTORY.use_case, limit: '100000', unit: 'tokens', period: 'month' });
    const before = gw.upstream.requests.length;
    const { chunks } = chunkedPrompt();
    const res = await rawRequest(gw.url, { path: '/openai/v1/chat/completions', headers: lines(INVENTORY), chunks });
    expect(res.status, res.body).toBe(429);
    expect((res.json() as { error: { code: string } }).error.code).toBe('budget_exhausted');
    expect(gw.upstream.requests.length).toBe(before);
  });

  it('meter a chunked call cut before its usage at the prompt estimate of what was received, not 0 input tokens', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: INVENTORY.use_case, limit: '50000000', unit: 'tokens', period: 'month' });
    gw.upstream.script({ fault: 'cut', afterEvents: 0, path: '/v1/chat/completions' });
    const { chunks, prompt } = chunkedPrompt();
    const res = await rawRequest(gw.url, { path: '/openai/v1/chat/completions', headers: lines(INVENTORY), chunks });
    const { usage } = await rowsFor(res);
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ partial: true });
    // The text (model id, role, key and content bytes) ÷ 4, and the one message's framing: what the gateway estimated.
    expect(prompt).toBe(Math.ceil((12 + 4 + 4 + 7 + 800_000) / 4) + 1);
    expect(Number(usage[0].input_tokens)).toBe(prompt);
  });
});

describe('nesting', () => {
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const chat = (extra: string) => `{"model":"gpt-4.1-mini","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"x_nested":${extra}}`;

  it('refuses [ x 10,000 with 400 invalid_request naming the limit: nothing forwarded, in flight or charged', async () => {
    const before = gw.upstream.requests.length;
    const res = await send('/openai/v1/chat/completions', PROMO, chat(nested(10_000)));
    expectInvalid(res, /nests arrays and objects deeper than 128 levels/);
    expect(gw.upstream.requests.length).toBe(before);
    const rows = await rowsFor(res);
    expect(rows.usage).toHaveLength(0);
    expect(rows.inflight).toHaveLength(0);
    expect(rows.decisions).toHaveLength(1);
    expect(rows.decisions[0]).toMatchObject({ code: 'invalid_request', http_status: 400 });
  });

  it('refuses a top-level [ x 10,000 on the Anthropic route in Anthropic\'s shape', async () => {
    const res = await send('/anthropic/v1/messages', PROMO, nested(10_000));
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_request', message: expect.stringContaining('128 levels') } });
  });

  it('forwards a body nested 120 levels deep, as sent', async () => {
    const res = await send('/openai/v1/chat/completions', PROMO, chat(nested(115)));
    expect(res.status, res.body).toBe(200);
    expect(JSON.stringify((gw.upstream.requests.at(-1)!.body as { x_nested: unknown }).x_nested)).toBe(nested(115));
    expect((await rowsFor(res)).usage).toHaveLength(1);
  });
});

describe('output limits', () => {
  const CASES: [route: string, field: string, literal: string][] = [
    ['/openai/v1/chat/completions', 'max_tokens', '1e16'],
    ['/openai/v1/chat/completions', 'max_tokens', '9007199254740992'],
    ['/openai/v1/chat/completions', 'max_tokens', '10.5'],
    ['/openai/v1/chat/completions', 'max_tokens', '-1'],
    ['/openai/v1/chat/completions', 'max_tokens', '"100"'],
    ['/openai/v1/chat/completions', 'max_completion_tokens', '0'],
    ['/openai/v1/responses', 'max_output_tokens', '1e16'],
    ['/anthropic/v1/messages', 'max_tokens', '1e16'],
    ['/anthropic/v1/messages', 'max_tokens', '4096.5'],
  ];

  it.each(CASES)('%s refuses %s: %s with 400 invalid_request naming it, before the upstream', async (route, field, literal) => {
    const model = route.startsWith('/anthropic') ? 'claude-haiku-4-5' : 'gpt-4.1-mini';
    const input = route.endsWith('/responses') ? '"input":"hi"' : '"messages":[{"role":"user","content":"hi"}]';
    const before = gw.upstream.requests.length;
    const res = await send(route, PROMO, `{"model":"${model}",${input},"${field}":${literal}}`);
    expect(res.status, res.body).toBe(400);
    const error = (res.json() as { error: { code: string; message: string } }).error;
    expect(error).toMatchObject({ code: 'invalid_request', message: `invalid request: ${field} must be a whole number from 1 to 1000000` });
    expect(gw.upstream.requests.length).toBe(before);
    expect((await rowsFor(res)).usage).toHaveLength(0);
  });

  it('accepts the largest limit, 1,000,000', async () => {
    const res = await send('/openai/v1/chat/completions', PROMO, '{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":1000000}');
    expect(res.status, res.body).toBe(200);
  });
});

describe('bodies that are not JSON objects tollgate reads', () => {
  const cases: [string, string, RegExp][] = [
    ['a "__proto__" key', '{"model":"gpt-4.1-mini","__proto__":{"polluted":1},"messages":[{"role":"user","content":"hi"}]}', /"__proto__" key .*prototype poisoning/],
    ['a "constructor" with a "prototype"', '{"model":"gpt-4.1-mini","constructor":{"prototype":{"polluted":1}},"messages":[]}', /prototype poisoning/],
    ['text that is not JSON', '{"model": "gpt-4.1-mini", messages: [}', /not valid JSON/],
    ['an empty body', '', /body is empty/],
  ];
  it.each(cases)('refuses %s with 400 invalid_request saying why, in both shapes, and forwards nothing', async (_what, body, message) => {
    const before = gw.upstream.requests.length;
    const openai = await send('/openai/v1/chat/completions', PROMO, body);
    expectInvalid(openai, message);
    const anthropic = await send('/anthropic/v1/messages', PROMO, body);
    expectInvalid(anthropic, message);
    expect((anthropic.json() as { type: string }).type).toBe('error');
    expect(gw.upstream.requests.length).toBe(before);
    expect((await rowsFor(openai)).usage).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
