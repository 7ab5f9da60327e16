/**
 * Profiles tollgate under the overhead bench's load: `tsx test/bench/overhead/profile.ts [calls] [connections]` starts the
 * fake upstream and `tollgate serve --cpu-prof` on a scratch Postgres database with the demo budgets, sends the
 * calls (over 32 connections unless told), stops it and prints the self time by function and by file of its CPU profile.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createBenchDb } from '../bench-db.js';
import { serveNodeFlags, startProc } from './procs.js';
import { generateAgentKey } from '../../../src/identity/keys.js';
import { insertAgentKey } from '../../../src/db/agent-keys.js';
import { freePort } from '../../helpers/pg-server.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CALLS = Number(process.argv[2] ?? 5000);
const CONNECTIONS = Number(process.argv[3] ?? 32);
const KEY = 'sk-bench-upstream';

execFileSync('npx', ['tsc', '-p', 'src'], { cwd: ROOT, stdio: 'inherit' });
const bench = await createBenchDb({ budgets: true });
const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-prof-'));
const upstream = await startProc('upstream', ['--import', 'tsx', path.join(ROOT, 'test/bench/overhead/upstream.ts')], { BENCH_UPSTREAM_KEY: KEY });
const key = generateAgentKey();
await insertAgentKey(bench.db, { id: key.id, agentId: 'campaign-writer', hash: key.hash, prefix: key.prefix });
const port = await freePort();
const tollgate = await startProc('tollgate', ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${profDir}`, ...serveNodeFlags(ROOT), path.join(ROOT, 'dist/cli/main.js'), 'serve'], {
  NODE_ENV: 'production', LOG_LEVEL: 'warn', PORT: String(port), DATABASE_URL: bench.url, TOLLGATE_SEED: 'never', TOLLGATE_POLICY_WATCH: 'false',
  TOLLGATE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-prof-data-')),
  TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: KEY, TOLLGATE_ANTHROPIC_BASE_URL: upstream.url, ANTHROPIC_API_KEY: KEY,
}, { url: `http://127.0.0.1:${port}`, path: '/readyz' });
const dispatcher = new Agent({ connections: CONNECTIONS });
const body = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'benchmark prompt of a typical short length for an agent step' }] });
let next = 0;
const cpu0 = tollgate.cpuMicros();
await Promise.all(Array.from({ length: CONNECTIONS }, async (_, w) => {
  // A new session every 20 of this worker's calls (as the overhead bench does).
  let mine = 0;
  for (let i = next++; i < CALLS; i = next++) {
    const res = await request(`${tollgate.url}/openai/v1/chat/completions`, {
      method: 'POST', dispatcher, body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}`, 'x-tollgate-bu': 'marketing', 'x-tollgate-use-case': 'digital-marketing', 'x-tollgate-agent-id': 'campaign-writer', 'x-tollgate-session-id': `p-${w}-${Math.floor(mine++ / 20)}` },
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
  }
}));
console.log(`CPU per call: ${((tollgate.cpuMicros() - cpu0) / CALLS).toFixed(0)} µs`);
await dispatcher.close();
await tollgate.stop();
await upstream.stop();
await bench.drop();

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] };
const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
const profile = JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8')) as { nodes: Node[]; samples: number[] };
const total = profile.samples.length;
const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const n of profile.nodes) {
  const where = n.callFrame.url.replace(/^file:\/\//, '').replace(ROOT, '').replace(/.*node_modules\//, 'nm/');
  const fn = `${n.callFrame.functionName || '(anon)'} ${where}:${n.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + n.hitCount);
  const f = where.startsWith('nm/') ? where.split('/').slice(0, where.startsWith('nm/@') ? 3 : 2).join('/') : where || n.callFrame.functionName;
  byFile.set(f, (byFile.get(f) ?? 0) + n.hitCount);
}
const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, h]) => `${((100 * h) / total).toFixed(1).padStart(5)}%  ${name}`).join('\n');
console.log(`\nself time by file/package (${total} samples):\n${top(byFile, 40)}\n\nself time by function:\n${top(byFn, 50)}`);
console.log(`\nprofile: ${path.join(profDir, file)}`);
