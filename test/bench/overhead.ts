/**
 * npm run bench:overhead — what a call through tollgate costs, beside its rivals, in one run.
 *
 * Targets, each in a process of its own, in front of the same fake upstream (itself a process):
 *   direct    the fake upstream itself (direct-az: its Azure OpenAI route);
 *   bare      a bare @fastify/http-proxy (our floor: forwarding and nothing else);
 *   portkey   the Portkey OSS gateway (@portkey-ai/gateway, --headless), routed to the fake as a custom host;
 *   tollgate  `tollgate serve` (compiled, NODE_ENV=production) on Postgres with the demo budgets on
 *             (use case, BU and session cap), a new session id every 20 calls;
 *   tg-azure  the same tollgate process on its vendor route /azure: a deployment's chat completions in the
 *             AzureOpenAI client's wire format (api-key, api-version), its key upstream, the catalog's azure/ model.
 * BENCH_OVERHEAD_ROUNDS rounds (default 5) of BENCH_OVERHEAD_CALLS chat completions (default 2,000) per target at
 * BENCH_OVERHEAD_CONCURRENCY connections (default 32), the targets' order rotating each round. Each round starts
 * once every bench process and Postgres are idle, and its CPU is read once they are idle again (settle): no round
 * runs beside work its predecessor left running (the rotation gives each target the same predecessor every round:
 * tollgate's is the Portkey gateway), and the work a target defers past its last answer (tollgate's meter writing
 * the round's records) counts in its own round. Per target: the
 * median over rounds of rps, p50/p99, CPU µs per call of its process (and the part of it spent in the kernel) and
 * of Postgres (all read from /proc). The kernel's part is its system calls (sockets, for tollgate also its journal's
 * writes); tollgate's CPU against the bare proxy's is also printed apart, outside the kernel and in it.
 * Then the latency added at 1 connection (p50 over direct), and 3 tollgate replicas on one hot use case with the
 * Postgres transactions and the budget statements (tollgate_budget_statements_total, read from /metrics) per call.
 * Every Node target but the fake upstream runs with the Node flags `npm start` gives tollgate (package.json).
 * The figures are ratios against the bare proxy and Portkey measured in the same run: the machine is shared and
 * noisy, so absolute numbers mean little.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import knexFactory from 'knex';
import { createBenchDb, pct, postgresCpu, type PostgresCpu } from './bench-db.js';
import { serveNodeFlags, startProc, type Proc } from './overhead/procs.js';
import { generateAgentKey } from '../../src/identity/keys.js';
import { insertAgentKey } from '../../src/db/agent-keys.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import { freePort } from '../helpers/pg-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_OVERHEAD_CALLS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_OVERHEAD_CONCURRENCY ?? 32);
const SESSION_CALLS = 20;
/** Every process the bench starts: settle() waits for them, and they are stopped at the end. */
const benchProcesses: Proc[] = [];
/**
 * tollgate runs as `npm start` runs it, and the bare proxy and Portkey with the same Node flags: a larger young
 * generation saves any Node server some of its garbage collection, so the ratios compare like with like.
 */
const SERVE_FLAGS = serveNodeFlags(ROOT);
const UPSTREAM_KEY = 'sk-bench-upstream';
const TAGS = { 'x-tollgate-bu': 'marketing', 'x-tollgate-use-case': 'digital-marketing', 'x-tollgate-agent-id': 'campaign-writer' };
/** What the AzureOpenAI client calls for a deployment (the fake resource's gpt-4.1-mini). */
const AZURE_CHAT = '/openai/deployments/gpt-4.1-mini/chat/completions?api-version=2024-10-21';
const BODY = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'benchmark prompt of a typical short length for an agent step' }] });

type Target = { name: string; proc: Proc; url: string; headers: (session: string) => Record<string, string> };
/** `kernel`: the part of `cpu` (µs per call) the process spent in the kernel, its sockets' system calls mostly. */
type Round = { rps: number; p50: number; p99: number; cpu: number; kernel: number; pg: number };

async function main() {
  console.log(`tollgate overhead bench: ${ROUNDS} rounds × ${CALLS} calls per target, ${CONCURRENCY} connections, node ${process.version}, ${os.cpus().length} cpus; every Node target with npm start's flags for tollgate (${SERVE_FLAGS.join(' ') || 'none'})`);
  execFileSync('npx', ['tsc', '-p', 'src'], { cwd: ROOT, stdio: 'inherit' });
  const bench = await createBenchDb({ budgets: true });
  try {
    const tsx = ['--import', 'tsx'];
    const upstream = track(await startProc('upstream', [...tsx, path.join(ROOT, 'test/bench/overhead/upstream.ts')], { BENCH_UPSTREAM_KEY: UPSTREAM_KEY }));
    const bare = track(await startProc('bare', [...SERVE_FLAGS, ...tsx, path.join(ROOT, 'test/bench/overhead/bare-proxy.ts')], { BENCH_UPSTREAM_URL: upstream.url, BENCH_UPSTREAM_KEY: UPSTREAM_KEY }));
    const portkeyPort = await freePort();
    const portkey = track(await startProc('portkey', [...SERVE_FLAGS, path.join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js'), `--port=${portkeyPort}`, '--headless'],
      { NODE_ENV: 'production' }, { url: `http://127.0.0.1:${portkeyPort}`, path: '/' }));
    const key = generateAgentKey();
    await insertAgentKey(bench.db, { id: key.id, agentId: 'campaign-writer', hash: key.hash, prefix: key.prefix });
    const metricsToken = generateApiToken();
    await insertApiToken(bench.db, { id: metricsToken.id, hash: metricsToken.hash, prefix: metricsToken.prefix, role: 'metrics', label: 'bench' });
    const statements = (procs: Proc[]) => budgetStatements(procs, metricsToken.token);
    const startTollgate = async (name: string) => {
      const port = await freePort();
      return track(await startProc(name, [...SERVE_FLAGS, path.join(ROOT, 'dist/cli/main.js'), 'serve'], {
      NODE_ENV: 'production', LOG_LEVEL: 'warn', PORT: String(port), DATABASE_URL: bench.url, TOLLGATE_SEED: 'never', TOLLGATE_POLICY_WATCH: 'false',
      TOLLGATE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), `tollgate-bench-${name}-`)),
      TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_KEY, TOLLGATE_ANTHROPIC_BASE_URL: upstream.url, ANTHROPIC_API_KEY: UPSTREAM_KEY,
      TOLLGATE_AZURE_OPENAI_BASE_URL: upstream.url, AZURE_OPENAI_API_KEY: UPSTREAM_KEY,
      }, { url: `http://127.0.0.1:${port}`, path: '/readyz' }));
    };
    const tollgate = await startTollgate('tollgate');

    const targets: Target[] = [
      { name: 'direct', proc: upstream, url: `${upstream.url}/v1/chat/completions`, headers: () => ({ authorization: `Bearer ${UPSTREAM_KEY}` }) },
      { name: 'bare', proc: bare, url: `${bare.url}/openai/v1/chat/completions`, headers: () => ({}) },
      {
        name: 'portkey', proc: portkey, url: `${portkey.url}/v1/chat/completions`,
        headers: () => ({ authorization: `Bearer ${UPSTREAM_KEY}`, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream.url}/v1` }),
      },
      { name: 'tollgate', proc: tollgate, url: `${tollgate.url}/openai/v1/chat/completions`, headers: (session) => ({ authorization: `Bearer ${key.key}`, ...TAGS, 'x-tollgate-session-id': session }) },
      { name: 'direct-az', proc: upstream, url: `${upstream.url}${AZURE_CHAT}`, headers: () => ({ 'api-key': UPSTREAM_KEY }) },
      { name: 'tg-azure', proc: tollgate, url: `${tollgate.url}/azure${AZURE_CHAT}`, headers: (session) => ({ 'api-key': key.key, ...TAGS, 'x-tollgate-session-id': session }) },
    ];

    for (const t of targets) await load(t, 300, CONCURRENCY); // warm-up: JIT, connections, caches
    const rounds = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
    const statementsBefore = await statements([tollgate]);
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + r) % targets.length]!;
        rounds.get(t.name)!.push(await load(t, CALLS, CONCURRENCY));
      }
    }
    const med = new Map([...rounds].map(([name, rs]) => [name, medianRound(rs)]));
    report(med);
    // The tollgate process served both its targets' rounds (/openai and /azure).
    const tollgateCalls = 2 * ROUNDS * CALLS;
    const perCall = perCallStatements(statementsBefore, await statements([tollgate]), tollgateCalls);
    console.log(`\ntollgate's budget statements to Postgres over the rounds (${tollgateCalls} calls, a new session every ${SESSION_CALLS}): ${perCall.text}`);

    console.log('\nlatency at 1 connection (500 calls each, p50):');
    const single = new Map<string, Round>();
    for (const t of targets) single.set(t.name, await load(t, 500, 1));
    for (const [name, s] of single) {
      const base = single.get(name.endsWith('az') || name.endsWith('azure') ? 'direct-az' : 'direct')!.p50;
      console.log(`  ${name.padEnd(9)} p50 ${s.p50.toFixed(2)} ms  added over direct ${(s.p50 - base).toFixed(2)} ms`);
    }

    const steady = await replicas(bench.url, targets[3]!, [await startTollgate('tollgate-2'), await startTollgate('tollgate-3')], statements);
    verdicts(med, single, steady);
  } finally {
    for (const p of benchProcesses.reverse()) await p.stop();
    await bench.drop();
  }
}

function track(p: Proc): Proc {
  benchProcesses.push(p);
  return p;
}

/** `n` calls at `concurrency`, each worker on its own session that changes every SESSION_CALLS calls. */
async function load(t: Target, n: number, concurrency: number, targetsFor?: Target[]): Promise<Round> {
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  let next = 0;
  await settle();
  const cpu0 = (targetsFor ?? [t]).reduce((s, x) => s + x.proc.cpuMicros(), 0);
  const kernel0 = (targetsFor ?? [t]).reduce((s, x) => s + x.proc.kernelMicros(), 0);
  const pg0 = postgresCpu();
  const started = process.hrtime.bigint();
  const run = `${Date.now().toString(36)}-${t.name}`;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    // Counted per worker: the calls' global index would give a worker a new session at nearly every call.
    let mine = 0;
    for (let i = next++; i < n; i = next++) {
      const target = targetsFor ? targetsFor[i % targetsFor.length]! : t;
      const session = `bench-${run}-${worker}-${Math.floor(mine++ / SESSION_CALLS)}`;
      const t0 = process.hrtime.bigint();
      const res = await request(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers(session) }, body: BODY, dispatcher });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${target.name} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await settle();
  const cpu = (targetsFor ?? [t]).reduce((s, x) => s + x.proc.cpuMicros(), 0) - cpu0;
  const kernel = (targetsFor ?? [t]).reduce((s, x) => s + x.proc.kernelMicros(), 0) - kernel0;
  const pg = postgresCpu().since(pg0);
  await dispatcher.close();
  latencies.sort((a, b) => a - b);
  return { rps: n / seconds, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), cpu: cpu / n, kernel: kernel / n, pg: pg / n };
}

const SETTLE_WINDOW_MS = 250;
const SETTLE_IDLE_MICROS = 10_000; // one /proc tick: at most 4% of a core over the window
const SETTLE_MAX_MS = 5000;
const NO_POSTGRES_CPU: PostgresCpu = { ticks: new Map(), since: () => 0 };

/**
 * Waits until the bench's processes and Postgres are idle (at most one /proc tick of CPU between them over
 * SETTLE_WINDOW_MS), for at most SETTLE_MAX_MS. Before a round, so that it starts on a quiet machine whatever ran
 * before it; after its calls, so that the work a target defers past its last answer (tollgate's meter writing the
 * round's records, Postgres storing them) is counted in its own round.
 */
async function settle(): Promise<void> {
  const busy = () => benchProcesses.reduce((s, p) => s + p.cpuMicros(), 0) + postgresCpu().since(NO_POSTGRES_CPU);
  const deadline = Date.now() + SETTLE_MAX_MS;
  for (;;) {
    const before = busy();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_WINDOW_MS));
    if (busy() - before <= SETTLE_IDLE_MICROS || Date.now() >= deadline) return;
  }
}

function medianRound(rs: Round[]): Round {
  const m = (k: keyof Round) => median(rs.map((r) => r[k]));
  return { rps: m('rps'), p50: m('p50'), p99: m('p99'), cpu: m('cpu'), kernel: m('kernel'), pg: m('pg') };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function report(med: Map<string, Round>) {
  console.log('\nmedians over rounds:');
  console.log('  target     rps     p50 ms  p99 ms  CPU µs/call (own)  of it kernel  Postgres µs/call');
  for (const [name, r] of med) {
    console.log(`  ${name.padEnd(9)} ${r.rps.toFixed(0).padStart(6)}  ${r.p50.toFixed(1).padStart(6)}  ${r.p99.toFixed(1).padStart(6)}  ${r.cpu.toFixed(0).padStart(17)}  ${r.kernel.toFixed(0).padStart(12)}  ${r.pg.toFixed(0).padStart(16)}`);
  }
  const bare = med.get('bare')!;
  const portkey = med.get('portkey')!;
  for (const [name, label] of [['tollgate', 'tollgate'], ['tg-azure', 'tollgate on /azure']] as const) {
    const t = med.get(name)!;
    console.log(`\nratios (${label} against):`);
    console.log(`  bare proxy  throughput ×${(t.rps / bare.rps).toFixed(2)}  CPU per call ×${(t.cpu / bare.cpu).toFixed(2)}  (+ Postgres ${t.pg.toFixed(0)} µs)`
      + `; outside the kernel ${times(t.cpu - t.kernel, bare.cpu - bare.kernel)}, in it ${times(t.kernel, bare.kernel)}`);
    console.log(`  Portkey OSS throughput ×${(t.rps / portkey.rps).toFixed(2)}  CPU per call ×${((t.cpu + t.pg) / portkey.cpu).toFixed(2)} (tollgate with its Postgres)`);
  }
}

/** `a` against `b` as `×1.23`; a count of /proc ticks can be 0 (10 ms of CPU over a round's calls), and then there is no ratio. */
function times(a: number, b: number): string {
  return b > 0 ? `×${(a / b).toFixed(2)}` : 'n/a (none measured for the bare proxy)';
}

/** 3 replicas of tollgate on one Postgres, one hot use case: throughput, Postgres transactions and budget statements per call. */
async function replicas(dbUrl: string, first: Target, more: Proc[], statements: (procs: Proc[]) => Promise<Record<string, number>>) {
  const all: Target[] = [first, ...more.map((proc) => ({ ...first, name: proc.name, proc, url: `${proc.url}/openai/v1/chat/completions` }))];
  for (const t of all) await load(t, 200, 8);
  const admin = knexFactory({ client: 'pg', connection: dbUrl, pool: { min: 0, max: 1 } });
  const xacts = async () => Number(((await admin.raw('select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()')) as { rows: { n: string }[] }).rows[0]!.n);
  const n = CALLS * 2;
  const before = await xacts();
  const statementsBefore = await statements(all.map((t) => t.proc));
  const r = await load(first, n, CONCURRENCY, all);
  // Let the writers flush what the run metered, so its transactions are counted too.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const per = ((await xacts()) - before) / n;
  const perCall = perCallStatements(statementsBefore, await statements(all.map((t) => t.proc)), n);
  await admin.destroy();
  console.log(`\n3 replicas, one use case: ${r.rps.toFixed(0)} calls/s, CPU µs/call (3 processes) ${r.cpu.toFixed(0)}, Postgres µs/call ${r.pg.toFixed(0)}, Postgres transactions per call ${per.toFixed(3)}`);
  console.log(`  budget statements (all 3 replicas, ${n} calls): ${perCall.text}`);
  return perCall;
}

/** tollgate_budget_statements_total of these processes, summed by kind (from /metrics). */
async function budgetStatements(procs: Proc[], token: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of procs) {
    const res = await request(`${p.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${p.name} /metrics answered ${res.statusCode}: ${text.slice(0, 200)}`);
    for (const m of text.matchAll(/^tollgate_budget_statements_total\{kind="(\w+)"\} (\d+)/gm)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

/** Budget statements per call between two readings: those a call sends itself (exact reservations) and the leases'. */
function perCallStatements(before: Record<string, number>, after: Record<string, number>, calls: number) {
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const perCall = (d('reserve') + d('shrink') + d('release')) / calls;
  const leases = (d('acquire') + d('settle')) / calls;
  const text = `per call ${perCall.toFixed(4)} (reserve ${d('reserve')}, shrink ${d('shrink')}, release ${d('release')}); `
    + `leases ${leases.toFixed(4)} per call (acquire ${d('acquire')}, settle ${d('settle')})`;
  return { perCall, leases, text };
}

function verdicts(med: Map<string, Round>, single: Map<string, Round>, steady: { perCall: number }) {
  const t = med.get('tollgate')!;
  const bare = med.get('bare')!;
  const portkey = med.get('portkey')!;
  const added = single.get('tollgate')!.p50 - single.get('direct')!.p50;
  const lines: [string, boolean][] = [
    [`throughput ≥ 0.6× bare proxy (×${(t.rps / bare.rps).toFixed(2)})`, t.rps >= 0.6 * bare.rps],
    [`throughput ≥ 2.5× Portkey OSS (×${(t.rps / portkey.rps).toFixed(2)})`, t.rps >= 2.5 * portkey.rps],
    [`gateway CPU per call ≤ 2× bare proxy (×${(t.cpu / bare.cpu).toFixed(2)})`, t.cpu <= 2 * bare.cpu],
    [`Postgres CPU per call ≤ 100 µs (${t.pg.toFixed(0)} µs)`, t.pg <= 100],
    [`added latency at 1 connection ≤ 1 ms p50 (${added.toFixed(2)} ms)`, added <= 1],
    [`no per-call budget statement in steady state, 3 replicas (${steady.perCall.toFixed(4)} per call)`, steady.perCall === 0],
  ];
  console.log('\ntargets (issue "The chokepoint at proxy speed"):');
  for (const [text, ok] of lines) console.log(`  ${ok ? 'met    ' : 'NOT met'}  ${text}`);
}

await main();
