import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_REDACT } from '../../src/app.js';
import { startGateway, WRITER, PROMO, UPSTREAM_OPENAI_KEY, type Gateway } from '../helpers/gateway.js';

const PROMPT = 'confidential launch plan for the secret spring product';
const logLines: string[] = [];
let gw: Gateway;
let key: string;

beforeAll(async () => {
  const stream = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  gw = await startGateway({}, { logger: { level: 'trace', redact: LOG_REDACT, stream } });
  key = await gw.key('campaign-writer');
});
afterAll(async () => gw?.close());

describe('operations endpoints', () => {
  it('answers /healthz and /readyz with the policy revision', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, string>; policy_revision: string };
    expect(body).toMatchObject({ status: 'ready', checks: { policy: 'ok', database: 'ok' } });
    expect(body.policy_revision).toMatch(/^[0-9a-f]{12}$/);
  });

  it('counts calls by decision code, tokens, cost and latencies in /metrics', async () => {
    const client = gw.openai(key, WRITER);
    await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: PROMPT }] });
    const denied = await gw.openai(key, PROMO).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: PROMPT }] }).catch((e: { code?: string }) => e);
    expect((denied as { code?: string }).code).toBe('agent_id_mismatch');
    const text = await (await fetch(`${gw.url}/metrics`)).text();
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
});
