import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_REDACT } from '../../src/app.js';
import { generateApiToken, insertApiToken, type ApiRole } from '../../src/db/api-tokens.js';
import { startGateway, WRITER, PROMO, UPSTREAM_OPENAI_KEY, type Gateway } from '../helpers/gateway.js';

const PROMPT = 'confidential launch plan for the secret spring product';
const logLines: string[] = [];
let gw: Gateway;
let key: string;
let scraper: string;

async function apiToken(role: ApiRole, bu?: string): Promise<string> {
  const t = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role, buId: bu });
  return t.token;
}

const scrape = (token: string | null) => fetch(`${gw.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  const stream = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  gw = await startGateway({}, { logger: { level: 'trace', redact: LOG_REDACT, stream } });
  key = await gw.key('campaign-writer');
  scraper = await apiToken('metrics');
});
afterAll(async () => gw?.close());

describe('operations endpoints', () => {
  it('answers /healthz and /readyz without credentials, saying ready or not and which check failed, nothing more', async () => {
    const health = await fetch(`${gw.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { policy: 'ok', database: 'ok', meter: 'ok' } });
  });

  it('/metrics open without credentials: refuses no token and unknown tokens (401), and roles that may not scrape (403)', async () => {
    const none = await scrape(null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await none.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect((await scrape(`tga_${'A'.repeat(43)}`)).status).toBe(401);
    // An agent key is not an API token.
    expect((await scrape(key)).status).toBe(401);
    for (const role of ['finance', 'council', 'bu-owner'] as const) {
      const res = await scrape(await apiToken(role, role === 'bu-owner' ? 'marketing' : undefined));
      expect(res.status, role).toBe(403);
      const text = await res.text();
      expect(text, role).toContain('FORBIDDEN');
      expect(text, role).not.toContain('tollgate_');
    }
    for (const t of [scraper, await apiToken('admin')]) {
      const res = await scrape(t);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^tollgate_policy_info\{revision="[0-9a-f]{12}"\} 1$/m);
    }
  });

  it('counts calls by decision code, tokens, cost and latencies in /metrics', async () => {
    const client = gw.openai(key, WRITER);
    await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: PROMPT }] });
    const denied = await gw.openai(key, PROMO).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: PROMPT }] }).catch((e: { code?: string }) => e);
    expect((denied as { code?: string }).code).toBe('agent_id_mismatch');
    const text = await (await scrape(scraper)).text();
    expect(text).toMatch(/tollgate_calls_total\{provider="openai",code="ok",allowed="true"\} [1-9]/);
    expect(text).toContain('tollgate_calls_total{provider="openai",code="agent_id_mismatch",allowed="false"} 1');
    expect(text).toMatch(/tollgate_tokens_total\{provider="openai",model="gpt-4.1-mini",kind="input"\} [1-9]/);
    expect(text).toMatch(/tollgate_tokens_total\{provider="openai",model="gpt-4.1-mini",kind="output"\} [1-9]/);
    expect(text).toMatch(/tollgate_cost_total\{provider="openai",model="gpt-4.1-mini",currency="USD"\} 0\.\d*[1-9]/);
    expect(text).toMatch(/tollgate_decision_seconds_count [1-9]/);
    expect(text).toMatch(/tollgate_gateway_overhead_seconds_count [1-9]/);
    expect(text).toMatch(/^tollgate_meter_pending_events \d+$/m);
    expect(text).toMatch(/^tollgate_meter_flush_failures 0$/m);
  });

  it('logs requests without credentials or prompt text', async () => {
    await gw.openai(key, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', stream: false, messages: [{ role: 'user', content: PROMPT }] });
    await new Promise((r) => setTimeout(r, 50));
    const all = logLines.join('');
    expect(logLines.length).toBeGreaterThan(3);
    expect(all).toContain('request completed');
    expect(all).not.toContain(key);
    expect(all).not.toContain(key.slice(3, 20));
    expect(all).not.toContain(UPSTREAM_OPENAI_KEY);
    expect(all).not.toContain('secret spring product');
  });

  it('full URLs logged with a token a caller put in the query: every route logs the path and the parameter names only', async () => {
    const secret = 'tga_QUERYSECRETquerysecretQUERYSECRETquerysecret1';
    const urls = [
      `/openai/v1/chat/completions?api_key=${secret}`,
      `/anthropic/v1/messages?${secret}`,
      `/graphql?query=%7Bviewer%7Brole%7D%7D&token=${secret}`,
      `/v1/reports/chargeback?period=2026-11&format=csv&access_token=${secret}`,
      `/metrics?token=${secret}`,
      `/healthz?token=${secret}`,
      `/readyz?token=${secret}`,
      `/council?token=${secret}`,
      `/no/such/route?token=${secret}`,
    ];
    const before = logLines.length;
    for (const u of urls) await fetch(`${gw.url}${u}`, { method: u.startsWith('/openai') || u.startsWith('/anthropic') ? 'POST' : 'GET', headers: { 'content-type': 'application/json' }, body: u.startsWith('/openai') || u.startsWith('/anthropic') ? '{}' : undefined });
    await new Promise((r) => setTimeout(r, 50));
    const lines = logLines.slice(before).join('');
    expect(lines).not.toContain('QUERYSECRET');
    expect(lines).toContain('"url":"/v1/reports/chargeback?period&format&access_token"');
    expect(lines).toContain('"url":"/anthropic/v1/messages?[redacted]"');
    expect(lines).toContain('Route GET:/no/such/route?token not found');
    for (const u of urls) expect(lines, u).toContain(`"url":"${u.split('?')[0]}?`);
  });
});
