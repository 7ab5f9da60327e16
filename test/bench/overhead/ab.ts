/**
 * Two builds of tollgate side by side: `npx tsx test/bench/overhead/ab.ts <git revision> [rounds] [calls]`.
 *
 * A change to the hot path moves a call's CPU by a few percent, and on a shared machine two rounds of the same
 * build run apart in time differ by more (±20% seen). So the base (the revision, checked out in a temporary
 * worktree and compiled) and this tree (compiled) serve at the same time, under one load, half of its 32
 * connections each, against one fake upstream and one Postgres database with the demo budgets: whatever else the
 * machine runs weighs on both alike. Each round gives each build's CPU per call, read from /proc; the ratio of the
 * two in a round is the figure, its median over rounds the result. A bare @fastify/http-proxy is measured between
 * rounds for scale. The base must have the same migrations as this tree (its `serve` refuses a database migrated
 * past what it knows). Both, and the bare proxy, run with this tree's `npm start` Node flags, so that only the code differs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createBenchDb, type BenchDb } from '../bench-db.js';
import { serveNodeFlags, startProc, type Proc } from './procs.js';
import { generateAgentKey } from '../../../src/identity/keys.js';
import { insertAgentKey } from '../../../src/db/agent-keys.js';
import { freePort } from '../../helpers/pg-server.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const [revision, roundsArg, callsArg] = process.argv.slice(2);
if (!revision) {
  console.error('usage: npx tsx test/bench/overhead/ab.ts <git revision> [rounds=11] [calls per build per round=4000]');
  process.exit(2);
}
const ROUNDS = Number(roundsArg ?? 11);
const CALLS = Number(callsArg ?? 4000);
const CONNECTIONS = 32;
const SESSION_CALLS = 20;
const KEY = 'sk-bench-upstream';
const BODY = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'benchmark prompt of a typical short length for an agent step' }] });
const TAGS = { 'x-tollgate-bu': 'marketing', 'x-tollgate-use-case': 'digital-marketing', 'x-tollgate-agent-id': 'campaign-writer' };

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-ab-base-'));
const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
const baseRev = git('rev-parse', '--short', revision);
console.log(`A/B: base ${baseRev} against this tree (${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ', with changes' : ''}), ${ROUNDS} rounds × ${CALLS} calls per build, node ${process.version}, ${os.cpus().length} cpus`);
git('worktree', 'add', '--detach', base, revision);
const procs: Proc[] = [];
let bench: BenchDb | undefined;
try {
  bench = await createBenchDb({ budgets: true });
  const db = bench;
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'));
  execFileSync('npx', ['tsc', '-p', 'src'], { cwd: base, stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-p', 'src'], { cwd: ROOT, stdio: 'inherit' });
  const track = (p: Proc) => (procs.push(p), p);
  const upstream = track(await startProc('upstream', ['--import', 'tsx', path.join(ROOT, 'test/bench/overhead/upstream.ts')], { BENCH_UPSTREAM_KEY: KEY }));
  const bare = track(await startProc('bare', [...serveNodeFlags(ROOT), '--import', 'tsx', path.join(ROOT, 'test/bench/overhead/bare-proxy.ts')], { BENCH_UPSTREAM_URL: upstream.url, BENCH_UPSTREAM_KEY: KEY }));
  const key = generateAgentKey();
  await insertAgentKey(db.db, { id: key.id, agentId: 'campaign-writer', hash: key.hash, prefix: key.prefix });
  const serve = async (name: string, root: string) => {
    const port = await freePort();
    return track(await startProc(name, [...serveNodeFlags(ROOT), path.join(root, 'dist/cli/main.js'), 'serve'], {
      NODE_ENV: 'production', LOG_LEVEL: 'warn', PORT: String(port), DATABASE_URL: db.url, TOLLGATE_SEED: 'never', TOLLGATE_POLICY_WATCH: 'false',
      TOLLGATE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), `tollgate-ab-${name}-`)), TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: KEY,
    }, { url: `http://127.0.0.1:${port}`, path: '/readyz' }));
  };
  const a = await serve('base', base);
  const b = await serve('this', ROOT);

  /** `n` calls to each of `builds` at once, the connections shared out among them; CPU µs per call of each. */
  const load = async (builds: Proc[], n: number, headers: (session: string) => Record<string, string>, shift = 0): Promise<number[]> => {
    const dispatcher = new Agent({ connections: CONNECTIONS });
    const run = Date.now().toString(36);
    const sent = builds.map(() => 0);
    const cpu0 = builds.map((p) => p.cpuMicros());
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, worker) => {
      const i = (worker + shift) % builds.length;
      let mine = 0;
      while (sent[i]! < n) {
        sent[i]!++;
        const session = `ab-${run}-${worker}-${Math.floor(mine++ / SESSION_CALLS)}`;
        const res = await request(`${builds[i]!.url}/openai/v1/chat/completions`, { method: 'POST', dispatcher, body: BODY, headers: { 'content-type': 'application/json', ...headers(session) } });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`${builds[i]!.name} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      }
    }));
    await dispatcher.close();
    return builds.map((p, i) => (p.cpuMicros() - cpu0[i]!) / n);
  };
  const tollgate = (session: string) => ({ authorization: `Bearer ${key.key}`, ...TAGS, 'x-tollgate-session-id': session });
  await load([a, b], 2000, tollgate); // warm-up: JIT, connections, leases
  await load([bare], 1000, () => ({}));
  const rows: { a: number; b: number; bare: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Which build gets the even connections changes each round.
    const [cpuA, cpuB] = await load([a, b], CALLS, tollgate, r);
    const [cpuBare] = await load([bare], CALLS, () => ({}));
    rows.push({ a: cpuA!, b: cpuB!, bare: cpuBare! });
    console.log(`  round ${r + 1}: CPU µs per call  base ${cpuA!.toFixed(0)}  this ${cpuB!.toFixed(0)}  bare ${cpuBare!.toFixed(0)}  this/base ×${(cpuB! / cpuA!).toFixed(3)}`);
  }
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((x, y) => x - y);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const ratios = rows.map((row) => row.b / row.a);
  console.log(`\nthis tree's CPU per call against ${baseRev}'s: ×${median(ratios).toFixed(3)} (median of ${ROUNDS} rounds; ×${Math.min(...ratios).toFixed(3)} to ×${Math.max(...ratios).toFixed(3)})`);
  console.log(`medians: base ${median(rows.map((x) => x.a)).toFixed(0)} µs, this ${median(rows.map((x) => x.b)).toFixed(0)} µs, bare proxy ${median(rows.map((x) => x.bare)).toFixed(0)} µs (alone, between rounds)`);
} finally {
  for (const p of procs.reverse()) await p.stop();
  await bench?.drop();
  git('worktree', 'remove', '--force', base);
}
