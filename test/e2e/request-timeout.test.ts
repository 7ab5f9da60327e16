import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startGateway, tagHeaders, PROMO, type Gateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';

/**
 * Issue 16 item 13: a body trickling one byte per 5 s stayed open 150 s. TOLLGATE_REQUEST_TIMEOUT_MS bounds
 * receiving a request (Node's requestTimeout), and only that: an answer may stream for longer.
 */

const TIMEOUT_MS = 1000;

let gw: Gateway;
let key: string;

beforeAll(async () => {
  gw = await startGateway({ TOLLGATE_REQUEST_TIMEOUT_MS: TIMEOUT_MS });
  key = await gw.key('promo-planner');
});
afterAll(async () => gw?.close());

const headers = (): [string, string][] => [['content-type', 'application/json'], ['authorization', `Bearer ${key}`], ...Object.entries(tagHeaders(PROMO))];

describe('the request timeout', () => {
  it('answers a body still arriving after the timeout with 408 request_timeout and closes the connection', async () => {
    const body = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] });
    const before = gw.upstream.requests.length;
    const started = Date.now();
    // All but the last byte at once, the last one 4 s later: past the timeout, as a one-byte-per-5 s trickle would be.
    const res = await rawRequest(gw.url, { path: '/openai/v1/chat/completions', headers: headers(), chunks: [body.slice(0, -1), body.slice(-1)], delayMs: 4000 });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(408);
    expect(res.headers.connection).toBe('close');
    expect(res.headers['x-tollgate-error-code']).toBe('request_timeout');
    // Both SDKs read this body as their own shape.
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'request_timeout', message: expect.any(String) } });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(3500);
    expect(gw.upstream.requests.length).toBe(before);
  });

  it('does not bound the answer: an SSE stream lasting four times the timeout arrives whole and is metered', async () => {
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 200, path: '/v1/chat/completions' });
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(PROMO) });
    const started = Date.now();
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(Date.now() - started).toBeGreaterThan(4 * TIMEOUT_MS);
    expect(text.split(' ')).toHaveLength(20);
    await gw.flush();
    const [row] = await gw.app.tollgate.db('usage_events').where('request_id', response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false });
    expect(Number(row.output_tokens)).toBe(20);
  });

  it('answers headers past Node\'s 16 KB limit with 431 headers_too_large', async () => {
    const res = await rawRequest(gw.url, { path: '/openai/v1/chat/completions', headers: [...headers(), ['x-filler', 'f'.repeat(20_000)]], body: '{}' });
    expect(res.status).toBe(431);
    expect(res.json()).toMatchObject({ error: { code: 'headers_too_large' } });
  });
});
