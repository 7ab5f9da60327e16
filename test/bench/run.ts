/**
 * npm run bench: the gateway's cost, as ratios against a baseline measured in the same run.
 *   - chat completions (JSON and SSE) straight to the fake upstream vs through tollgate: latency p50/p99 and
 *     throughput at a fixed concurrency, so the difference is tollgate's overhead;
 *   - the policy decision alone (WASM evaluate), p50/p99 in µs;
 *   - the prompt estimate alone (src/gateway/estimate.ts) on a short call, a 10 KB chat and an agent-sized body
 *     with tools, in µs, against parsing the same body (JSON.parse), which the gateway does anyway;
 *   - the budget reservation alone (BudgetGate.reserve: one prepared statement that updates 3 counters and
 *     inserts the call's reservation row) against a `select 1` round trip through knex: the µs a call pays;
 *   - throughput with budget enforcement off (no budget applies) vs on (use case + BU + session cap: three
 *     counters per call): BENCH_ROUNDS rounds (default 12) of BENCH_CALLS / 2 calls each way, alternated off/on,
 *     on/off, …; the figure is the median of the rounds' on/off throughput ratios. Target on Postgres: on costs
 *     ≤ 15% of throughput.
 * BENCH_CALLS (default 2000) and BENCH_CONCURRENCY (default 16) size it; DATABASE_URL runs it on Postgres (its
 * database is used as is: the bench adds ledger rows to it and replaces its budgets).
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
import { postgresCpu } from './bench-db.js';
import { promptTokens } from '../../src/gateway/estimate.js';

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
  // Only the budgets the scenario measures: a huge one, so that no tier interferes.
  await app.tollgate.db('budgets').delete();
  await upsertBudget(app.tollgate.db, { scope: 'use_case', scopeId: 'digital-marketing', limit: '1000000000', unit: 'usd', period: 'month' });

  const dispatcher = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 30_000 });
  const tags = { 'x-tollgate-bu': 'marketing', 'x-tollgate-use-case': 'digital-marketing', 'x-tollgate-agent-id': 'campaign-writer', 'x-tollgate-session-id': 'bench' };
  const body = (stream: boolean) => JSON.stringify({ model: 'gpt-4.1-mini', stream, max_tokens: 16, messages: [{ role: 'user', content: 'benchmark prompt of a typical short length for an agent step' }] });
  const direct = (stream: boolean) => () => call(`${upstream.url}/v1/chat/completions`, { authorization: `Bearer ${UPSTREAM_KEY}` }, body(stream), dispatcher);
  const viaGateway = (stream: boolean) => () => call(`${gateway}/openai/v1/chat/completions`, { authorization: `Bearer ${k.key}`, ...tags }, body(stream), dispatcher);
  // The enforcement runs: each concurrent client is its own agent session (a session is one agent's loop), so
  // every call takes the use case's and the BU's counters, shared by all, and its own session's.
  const inSession = (worker: number) => call(`${gateway}/openai/v1/chat/completions`, { authorization: `Bearer ${k.key}`, ...tags, 'x-tollgate-session-id': `bench-${worker}` }, body(false), dispatcher);

  const ledgerRows = async () => Number((await app.tollgate.db('usage_events').count<{ n: string }[]>({ n: '*' }))[0]?.n);
  const rowsBefore = await ledgerRows();
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
  console.log(`ledger rows written: ${(await ledgerRows()) - rowsBefore} (expected ${2 * (CALLS + 200)})`);
  policyMicrobench(app);
  estimateMicrobench();
  await reservationMicrobench(app);
  await enforcementBench(app, inSession);

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

async function run(fn: (worker: number) => Promise<void>, n: number): Promise<Stats> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
    while (next++ < n) {
      const t = process.hrtime.bigint();
      await fn(worker);
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
    budgets: [{ id: 1, scope: 'use_case' as const, scope_id: 'digital-marketing', unit: 'usd' as const, limit: 100, max_calls: null, period: 'month' as const, period_start: '2026-11-01T00:00:00.000Z', spent: 42, reserved: 1, calls: 10 }],
    budget_state: { available: true },
    estimate: { input_tokens: 80, output_tokens: 20, choices: 1, tokens: 100, cost: 0.001, input_cost: 0.0006, output_cost_per_token: 0.00002 },
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

/** Bodies of three sizes: a short call, a 10 KB conversation, and an agent's turn with 24 tool definitions. */
function estimateBodies(): Record<string, object> {
  const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 97}`).join(' ');
  const tool = (i: number) => ({ name: `tool_${i}`, description: words(60), input_schema: { type: 'object', properties: { path: { type: 'string', description: words(12) }, limit: { type: 'integer' } }, required: ['path'] } });
  const turns = (n: number, size: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: [{ type: 'text', text: words(size) }] }));
  return {
    short: { model: 'gpt-4.1-mini', max_tokens: 20, messages: [{ role: 'user', content: 'Say hi to the team' }] },
    chat10k: { model: 'gpt-4.1-mini', max_tokens: 512, messages: turns(12, 140) },
    agent: { model: 'claude-sonnet-4-5', max_tokens: 8192, system: words(1500), tools: Array.from({ length: 24 }, (_, i) => tool(i)), messages: turns(30, 200) },
  };
}

/** µs per call of the prompt estimate, against JSON.parse of the same body; and the estimate against JSON bytes ÷ 4. */
function estimateMicrobench() {
  for (const [name, body] of Object.entries(estimateBodies())) {
    const text = JSON.stringify(body);
    const loops = Math.max(200, Math.round(2_000_000 / text.length));
    const timed = (work: () => void) => {
      const us: number[] = [];
      for (let i = 0; i < loops; i++) {
        const t = process.hrtime.bigint();
        work();
        us.push(Number(process.hrtime.bigint() - t) / 1e3);
      }
      return pct(us.sort((a, b) => a - b), 0.5);
    };
    const estimate = timed(() => promptTokens(body));
    const parse = timed(() => JSON.parse(text));
    console.log(`prompt estimate ${name} (${(text.length / 1024).toFixed(1)} KB): p50 ${estimate.toFixed(1)} µs, ×${(estimate / parse).toFixed(2)} of JSON.parse (${parse.toFixed(1)} µs); ${promptTokens(body)} tokens (JSON bytes ÷ 4: ${Math.ceil(Buffer.byteLength(text) / 4)})`);
  }
}

const RESERVE_LOOPS = 2000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);

/** µs per call of the reservation statement, against a `select 1` round trip on the same pool. */
async function reservationMicrobench(app: Awaited<ReturnType<typeof buildApp>>) {
  const { db, budgetGate } = app.tollgate;
  await setEnforcement(app, true);
  const timeIt = async (fn: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < 200; i++) await fn(-i - 1);
    const us: number[] = [];
    for (let i = 0; i < RESERVE_LOOPS; i++) {
      const t = process.hrtime.bigint();
      await fn(i);
      us.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
    return us.sort((a, b) => a - b);
  };
  const baseline = await timeIt(() => db.raw('select 1'));
  const reserve = await timeIt((i) => budgetGate.reserve({
    requestId: `bench-reserve-${i}`, at: new Date(), bu: 'marketing', useCase: 'digital-marketing', agent: 'campaign-writer',
    session: 'bench', cost: '0.000041', tokens: 36,
  }));
  const facts = (await budgetGate.reserve({ requestId: 'bench-reserve-check', at: new Date(), bu: 'marketing', useCase: 'digital-marketing', agent: 'campaign-writer', session: 'bench', cost: '0', tokens: 0 })).budgets.length;
  // Give the microbench's reservations back so that the throughput runs start from clean counters.
  await db('budget_reservations').where('request_id', 'like', 'bench-reserve-%').delete();
  await db('budget_counters').update({ reserved: 0 });
  const added = (p: number) => pct(reserve, p) - pct(baseline, p);
  console.log(`budget reservation (${facts} counters) p50 ${pct(reserve, 0.5).toFixed(0)} µs  p99 ${pct(reserve, 0.99).toFixed(0)} µs  (baseline: select 1 p50 ${pct(baseline, 0.5).toFixed(0)} µs p99 ${pct(baseline, 0.99).toFixed(0)} µs; added per call p50 +${added(0.5).toFixed(0)} µs p99 +${added(0.99).toFixed(0)} µs, ratio ×${(pct(reserve, 0.5) / pct(baseline, 0.5)).toFixed(1)})`);
}

/** Off: no budget applies (the reservation statement still runs and finds none). On: three counters per call. */
async function setEnforcement(app: Awaited<ReturnType<typeof buildApp>>, on: boolean) {
  const { db } = app.tollgate;
  await db('budgets').delete();
  if (!on) return;
  await upsertBudget(db, { scope: 'use_case', scopeId: 'digital-marketing', limit: '1000000000', unit: 'usd', period: 'month' });
  await upsertBudget(db, { scope: 'bu', scopeId: 'marketing', limit: '1000000000', unit: 'usd', period: 'month' });
  await upsertBudget(db, { scope: 'session', scopeId: '*', limit: '1000000000', unit: 'usd', period: 'day', maxCalls: 1_000_000_000 });
}

async function enforcementBench(app: Awaited<ReturnType<typeof buildApp>>, fn: (worker: number) => Promise<void>) {
  const runs: Record<'off' | 'on', Stats[]> = { off: [], on: [] };
  const cpu: Record<'off' | 'on', { gateway: number[]; postgres: number[] }> = { off: { gateway: [], postgres: [] }, on: { gateway: [], postgres: [] } };
  const calls = Math.max(100, Math.round(CALLS / 2));
  for (let round = 0; round < ROUNDS; round++) {
    // off, on, then on, off: a drift in the machine's load over the run weighs on both sides alike.
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      await setEnforcement(app, mode === 'on');
      await run(fn, 100);
      const [process0, postgres0] = [process.cpuUsage(), postgresCpu()];
      runs[mode].push(await run(fn, calls));
      const used = process.cpuUsage(process0);
      cpu[mode].gateway.push((used.user + used.system) / calls);
      cpu[mode].postgres.push(postgresCpu().since(postgres0) / calls);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const m = (mode: 'off' | 'on') => ({
    perSecond: median(runs[mode].map((s) => s.perSecond)), p50: median(runs[mode].map((s) => s.p50)), p99: median(runs[mode].map((s) => s.p99)),
  });
  const off = m('off');
  const on = m('on');
  // Each round's on/off ratio is measured seconds apart, under the same load: their median is the figure,
  // steadier on a shared machine than the ratio of two medians taken across the whole run.
  const ratios = runs.on.map((s, i) => s.perSecond / runs.off[i]!.perSecond).sort((a, b) => a - b);
  const ratio = median(ratios);
  const cost = 1 - ratio;
  console.log(`budgets off  p50 ${ms(off.p50)} p99 ${ms(off.p99)} ${off.perSecond.toFixed(0)}/s  (no budget applies; median of ${ROUNDS} runs of ${calls} calls, alternated with on)`);
  console.log(`budgets on   p50 ${ms(on.p50)} p99 ${ms(on.p99)} ${on.perSecond.toFixed(0)}/s  (use case + BU + session cap: 3 counters per call, ${CONCURRENCY} concurrent sessions)`);
  console.log(`enforcement  throughput ×${ratio.toFixed(2)} (median of the rounds' on/off ratios, range ×${ratios[0]!.toFixed(2)}–×${ratios.at(-1)!.toFixed(2)}; costs ${(cost * 100).toFixed(1)}% of throughput; target ≤ 15% on Postgres: ${cost <= 0.15 ? 'met' : 'NOT met'})  p50 +${ms(on.p50 - off.p50)}`);
  // Where the difference goes: CPU per call of this process (gateway, client and fake upstream) and of the
  // machine's postgres processes (read from /proc; 0 where there is none), medians of the rounds.
  const perCall = (mode: 'off' | 'on', k: 'gateway' | 'postgres') => median(cpu[mode][k]).toFixed(0);
  console.log(`cpu per call  this process off ${perCall('off', 'gateway')} µs, on ${perCall('on', 'gateway')} µs; postgres off ${perCall('off', 'postgres')} µs, on ${perCall('on', 'postgres')} µs`);
  await setEnforcement(app, false);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const ms = (v: number) => `${v.toFixed(2)} ms`;

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
