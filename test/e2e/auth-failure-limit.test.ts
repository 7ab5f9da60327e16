import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, PROMO, type Gateway } from '../helpers/gateway.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { generateAgentKey } from '../../src/identity/keys.js';

/**
 * Issue 16 item 12: 200 bad keys in 1.6 s all reached the key store. Past TOLLGATE_AUTH_FAILURE_LIMIT failures in
 * a window, an address is refused with 429 auth_rate_limited and Retry-After, without a key-store lookup, for
 * any credential that has not authenticated before; successful calls are never limited.
 */

const LIMIT = 5;
const WINDOW_MS = 3000;

let gw: Gateway;
let goodKey: string;

beforeAll(async () => {
  gw = await startGateway({ TOLLGATE_AUTH_FAILURE_LIMIT: LIMIT, TOLLGATE_AUTH_FAILURE_WINDOW_MS: WINDOW_MS });
  goodKey = await gw.key('promo-planner');
});
afterAll(async () => gw?.close());

const CHAT = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] });

/** A call from `from` (any 127.x.y.z is this host on loopback, and a different source address). */
function chat(key: string, from: string, extra: [string, string][] = [], to: Gateway = gw): Promise<RawResponse> {
  const headers: [string, string][] = [['content-type', 'application/json'], ['authorization', `Bearer ${key}`], ...Object.entries(tagHeaders(PROMO)), ...extra];
  return rawRequest(to.url, { path: '/openai/v1/chat/completions', headers, body: CHAT, localAddress: from });
}

const codeOf = (res: RawResponse) => (res.json() as { error: { code: string } }).error.code;

describe('failed authentications per source address', () => {
  it(`refuses an address after ${LIMIT} failures, cheaply, until its window ends; others and known keys pass`, async () => {
    const from = '127.0.0.2';
    // The good key authenticates once before the failures start: it is known from then on.
    expect((await chat(goodKey, from)).status).toBe(200);
    for (let i = 0; i < LIMIT; i++) expect(codeOf(await chat(generateAgentKey().key, from))).toBe('invalid_credential');

    const limited = await chat(generateAgentKey().key, from);
    expect(limited.status).toBe(429);
    expect(codeOf(limited)).toBe('auth_rate_limited');
    expect(limited.headers['x-tollgate-error-code']).toBe('auth_rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);

    // No lookup: a valid key created now, never seen, is refused like any unknown one.
    const fresh = await gw.key('promo-planner');
    expect(codeOf(await chat(fresh, from))).toBe('auth_rate_limited');
    // Successful calls are never limited, and other addresses are not affected.
    expect((await chat(goodKey, from)).status).toBe(200);
    expect(codeOf(await chat(generateAgentKey().key, '127.0.0.3'))).toBe('invalid_credential');
    // Refusals cost nothing in Postgres: no decision row.
    await gw.flush();
    expect(await gw.app.tollgate.db('decision_log').where('request_id', String(limited.headers['x-tollgate-request-id']))).toHaveLength(0);

    await sleep(retryAfter * 1000 + 100);
    expect((await chat(fresh, from)).status).toBe(200);
  });

  it('answers in Anthropic\'s shape on the Anthropic route', async () => {
    const from = '127.0.0.4';
    for (let i = 0; i <= LIMIT; i++) await chat(generateAgentKey().key, from);
    // The SDKs cannot pick a source address, so the call is raw; the body is what the Anthropic SDK reads.
    const res = await rawRequest(gw.url, {
      path: '/anthropic/v1/messages', localAddress: from, body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
      headers: [['content-type', 'application/json'], ['x-api-key', generateAgentKey().key], ['anthropic-version', '2023-06-01'], ...Object.entries(tagHeaders(PROMO))],
    });
    expect(res.status).toBe(429);
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', code: 'auth_rate_limited' } });
  });
});

describe('behind a reverse proxy (TOLLGATE_TRUST_PROXY)', () => {
  let behind: Gateway;
  beforeAll(async () => {
    behind = await startGateway({ TOLLGATE_AUTH_FAILURE_LIMIT: 2, TOLLGATE_TRUST_PROXY: '127.0.0.5' });
  });
  afterAll(async () => behind?.close());

  it('counts failures per address the proxy forwards, not per proxy', async () => {
    const via = (client: string): [string, string][] => [['x-forwarded-for', client]];
    for (let i = 0; i < 2; i++) expect(codeOf(await chat(generateAgentKey().key, '127.0.0.5', via('203.0.113.7'), behind))).toBe('invalid_credential');
    expect(codeOf(await chat(generateAgentKey().key, '127.0.0.5', via('203.0.113.7'), behind))).toBe('auth_rate_limited');
    expect(codeOf(await chat(generateAgentKey().key, '127.0.0.5', via('203.0.113.8'), behind))).toBe('invalid_credential');
    // An address that is no trusted proxy cannot pick its own source.
    for (let i = 0; i < 2; i++) await chat(generateAgentKey().key, '127.0.0.6', via(`198.51.100.${i}`), behind);
    expect(codeOf(await chat(generateAgentKey().key, '127.0.0.6', via('198.51.100.9'), behind))).toBe('auth_rate_limited');
  });
});
