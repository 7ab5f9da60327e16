/**
 * How long the costliest GraphQL documents the limits accept hold the event loop, and what that does to the
 * gateway calls of the same process (role `all`). For each document of test/helpers/worst-queries.ts, sent
 * BENCH_REPEAT times (default 10) as a new source each time (mercurius caches parsed documents by text),
 * the longest event-loop block and the request's wall time, p50 and max. Then gateway calls one after
 * another, alone and while the documents are sent in a loop: p50/p99/max latency, as ratios.
 * BENCH_EVENTS (default 2000) usage events fill the month read; DATABASE_URL runs it on Postgres (its
 * database is used as is).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import { insertAgentKey } from '../../src/db/agent-keys.js';
import { writeBatch } from '../../src/db/ledger.js';
import { startFakeUpstream } from '../../src/demo/fake-upstream.js';
import { generateAgentKey } from '../../src/identity/keys.js';
import { syntheticDecisions, syntheticUsage } from '../integration/fixtures/analytics.js';
import { watchEventLoop } from '../helpers/event-loop.js';
import { worstQueries } from '../helpers/worst-queries.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 10);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const CALLS = 200;
const UPSTREAM_KEY = 'sk-bench-upstream';

async function main() {
  const upstream = await startFakeUpstream({ openaiKey: UPSTREAM_KEY, anthropicKey: UPSTREAM_KEY });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-gql-'));
  const config = loadConfig({
    ...(process.env.DATABASE_URL ? {} : { TOLLGATE_PGLITE_DIR: 'memory://' }),
    TOLLGATE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', TOLLGATE_POLICY_WATCH: false,
    TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_KEY,
  });
  const app = await buildApp(config, false);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const db = app.tollgate.db;
  await writeBatch(db, [...syntheticUsage(EVENTS, `gqlbench-${Date.now()}`), ...syntheticDecisions(EVENTS / 5, `gqlbenchd-${Date.now()}`)]);
  const api = generateApiToken();
  await insertApiToken(db, { id: api.id, hash: api.hash, prefix: api.prefix, role: 'admin' });
  const agent = generateAgentKey();
  await insertAgentKey(db, { id: agent.id, agentId: 'campaign-writer', hash: agent.hash, prefix: agent.prefix });

  let n = 0;
  const graphql = async (query: string) => {
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${api.token}` }, body: JSON.stringify({ query: `${query} # ${n++}` }) });
    const body = (await res.json()) as { errors?: unknown };
    if (res.status !== 200 || body.errors) throw new Error(`refused: ${JSON.stringify(body.errors)}`);
  };
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${agent.key}`, 'x-tollgate-bu': 'marketing', 'x-tollgate-use-case': 'digital-marketing', 'x-tollgate-agent-id': 'campaign-writer', 'x-tollgate-session-id': 'bench' };
  const body = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] });
  const gatewayCall = async () => {
    const start = performance.now();
    const res = await fetch(`${url}/openai/v1/chat/completions`, { method: 'POST', headers, body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`gateway call answered ${res.status}`);
    return performance.now() - start;
  };

  const queries = worstQueries('2026-11');
  console.log(`GraphQL limits bench: ${config.database.kind}, ${EVENTS} events, ${REPEAT} sends per document, node ${process.version}, ${os.cpus().length} cpus`);
  for (const [name, q] of Object.entries(queries)) {
    await graphql(q);
    const blocks: number[] = [];
    const walls: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const loop = watchEventLoop();
      const start = performance.now();
      await graphql(q);
      walls.push(performance.now() - start);
      blocks.push(loop.stop());
    }
    console.log(`${name.padEnd(22)} ${String(Buffer.byteLength(q)).padStart(6)} B  block p50 ${ms(pct(blocks, 50))} max ${ms(Math.max(...blocks))}  request p50 ${ms(pct(walls, 50))} max ${ms(Math.max(...walls))}`);
  }

  for (let i = 0; i < 20; i++) await gatewayCall();
  const alone = await sequential(gatewayCall, CALLS);
  const stop = { done: false };
  const load = (async () => {
    while (!stop.done) for (const q of Object.values(queries)) await graphql(q);
  })();
  const loaded = await sequential(gatewayCall, CALLS);
  stop.done = true;
  await load;
  console.log(`gateway calls alone            p50 ${ms(pct(alone, 50))} p99 ${ms(pct(alone, 99))} max ${ms(Math.max(...alone))}`);
  console.log(`gateway calls beside the above p50 ${ms(pct(loaded, 50))} p99 ${ms(pct(loaded, 99))} max ${ms(Math.max(...loaded))}  (×${(pct(loaded, 50) / pct(alone, 50)).toFixed(1)} at p50, ×${(pct(loaded, 99) / pct(alone, 99)).toFixed(1)} at p99)`);

  await app.close();
  await upstream.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

async function sequential(call: () => Promise<number>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await call());
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function ms(x: number): string {
  return `${x.toFixed(1)} ms`.padStart(9);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
