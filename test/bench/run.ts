/**
 * npm run bench: the gateway's cost, as ratios against a baseline measured in the same run.
 *   - chat completions (JSON and SSE) straight to the fake upstream vs through tollgate: latency p50/p99 and
 *     throughput at a fixed concurrency, so the difference is tollgate's overhead;
 *   - the policy decision alone (WASM evaluate), p50/p99 in µs.
 * BENCH_CALLS (default 2000) and BENCH_CONCURRENCY (default 16) size it; DATABASE_URL runs it on Postgres.
 */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startFakeUpstream } from '../../src/demo/fake-upstream.js';
import { generateAgentKey } from '../../src/identity/keys.js';
import { insertAgentKey } from '../../src/db/agent-keys.js';
import { upsertBudget } from '../../src/db/budgets.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const UPSTREAM_KEY = 'sk-bench-upstream';

type Stats = { p50: number; p99: number; perSecond: number };

async function main() {
  const upstream = await startFakeUpstream({ openaiKey: UPSTREAM_KEY, anthropicKey: UPSTREAM_KEY });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-'));
  const config = loadConfig({
    ...(process.env.DATABASE_URL ? {} : { TOLLGATE_PGLITE_DIR: 'memory://' }),
    TOLLGATE_DATA_DIR: dataDir, PORT: 0, LOG_LEVEL: 'silent', TOLLGATE_POLICY_WATCH: false,
    TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_KEY,
    TOLLGATE_ANTHROPIC_BASE_URL: upstream.url, ANTHROPIC_API_KEY: UPSTREAM_KEY,
  });
  const app = await buildApp(config, false);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const gateway = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const k = generateAgentKey();
  await insertAgentKey(app.tollgate.db, { id: k.id, agentId: 'campaign-writer', hash: k.hash, prefix: k.prefix });
  await upsertBudget(app.tollgate.db, { useCaseId: 'digital-marketing', limit: '1000000000', unit: 'usd', period: 'month' });
  await app.tollgate.budgets.refresh();

  const dispatcher = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 30_000 });
  const tags = { 'x-tollgate-bu': 'marketing', 'x-tollgate-use-case': 'digital-marketing', 'x-tollgate-agent-id': 'campaign-writer', 'x-tollgate-session-id': 'bench' };
  const body = (stream: boolean) => JSON.stringify({ model: 'gpt-4.1-mini', stream, max_tokens: 16, messages: [{ role: 'user', content: 'benchmark prompt of a typical short length for an agent step' }] });
  const direct = (stream: boolean) => () => call(`${upstream.url}/v1/chat/completions`, { authorization: `Bearer ${UPSTREAM_KEY}` }, body(stream), dispatcher);
  const viaGateway = (stream: boolean) => () => call(`${gateway}/openai/v1/chat/completions`, { authorization: `Bearer ${k.key}`, ...tags }, body(stream), dispatcher);

  console.log(`tollgate bench: ${CALLS} calls per scenario, concurrency ${CONCURRENCY}, ${config.database.kind}, node ${process.version}, ${os.cpus().length} cpus`);
  for (const stream of [false, true]) {
    await run(direct(stream), 200);
    await run(viaGateway(stream), 200);
    const base = await run(direct(stream), CALLS);
    const gw = await run(viaGateway(stream), CALLS);
    const label = stream ? 'chat SSE ' : 'chat JSON';
    console.log(`${label}  direct  p50 ${ms(base.p50)} p99 ${ms(base.p99)} ${base.perSecond.toFixed(0)}/s`);
    console.log(`${label}  tollgate p50 ${ms(gw.p50)} p99 ${ms(gw.p99)} ${gw.perSecond.toFixed(0)}/s`);
    console.log(`${label}  ratio    p50 ×${(gw.p50 / base.p50).toFixed(2)}  p99 ×${(gw.p99 / base.p99).toFixed(2)}  throughput ×${(gw.perSecond / base.perSecond).toFixed(2)}  (+${ms(gw.p50 - base.p50)} at p50)`);
  }
  await app.tollgate.meter.flush();
  const rows = await app.tollgate.db('usage_events').count<{ n: string }[]>({ n: '*' });
  console.log(`ledger rows written: ${rows[0]?.n} (expected ${2 * (CALLS + 200)})`);
  policyMicrobench(app);

  await dispatcher.close();
  await app.close();
  await upstream.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

async function call(url: string, headers: Record<string, string>, body: string, dispatcher: Agent): Promise<void> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, dispatcher });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
}

async function run(fn: () => Promise<void>, n: number): Promise<Stats> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < n) {
      const t = process.hrtime.bigint();
      await fn();
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), perSecond: n / seconds };
}

function policyMicrobench(app: Awaited<ReturnType<typeof buildApp>>) {
  const input = {
    request: { id: 'bench', provider: 'openai', endpoint: '/chat/completions', model: 'gpt-4.1-mini', stream: false },
    identity: { authenticated: true, kind: 'agent_key' as const, agent_id: 'campaign-writer' },
    tags: { bu: 'marketing', use_case: 'digital-marketing', agent_id: 'campaign-writer', session_id: 'bench' },
    catalog: app.tollgate.catalog.facts({ bu: 'marketing', use_case: 'digital-marketing' }, 'campaign-writer', 'gpt-4.1-mini'),
    budget: { available: true, limit: 100, spent: 42, unit: 'usd' as const },
    estimate: { tokens: 100, cost: 0.001 },
    now: new Date().toISOString(),
  };
  const micros: number[] = [];
  for (let i = 0; i < 20_000; i++) micros.push(app.tollgate.policy.evaluate(input).micros);
  micros.sort((a, b) => a - b);
  const json: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = process.hrtime.bigint();
    JSON.parse(JSON.stringify(input));
    json.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  json.sort((a, b) => a - b);
  console.log(`policy decision (WASM) p50 ${pct(micros, 0.5).toFixed(1)} µs  p99 ${pct(micros, 0.99).toFixed(1)} µs  (baseline: JSON round trip of the input p50 ${pct(json, 0.5).toFixed(1)} µs, ratio ×${(pct(micros, 0.5) / pct(json, 0.5)).toFixed(1)})`);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const ms = (v: number) => `${v.toFixed(2)} ms`;

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
