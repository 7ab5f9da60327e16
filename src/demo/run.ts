import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { insertAgentKey } from '../db/agent-keys.js';
import { generateApiToken, insertApiToken } from '../db/api-tokens.js';
import { upsertBudget } from '../db/budgets.js';
import { chargeback } from '../db/ledger.js';
import { monthRange } from '../budgets/period.js';
import { generateAgentKey } from '../identity/keys.js';
import { formatChargeback } from '../cli/reports.js';
import { startFakeUpstream } from './fake-upstream.js';
import { DEMO_AGENTS, runAgent } from './agents.js';
import { Board } from './board.js';

/**
 * `npm run demo`: tollgate in front of a fake OpenAI and Anthropic, five agents of three BUs calling through
 * it with the official SDKs, and small budgets so that tiers, downgrades and rejections show within a
 * minute. DEMO_SECONDS (default 60) bounds the run (DEMO_UNTIL_SHOWN=1 ends it once the marketing use cases
 * were downgraded and stopped); DEMO_SPEED (default 1) multiplies the agents' pace;
 * DEMO_PORT or --port is where tollgate listens (default 8787, or any free port when 8787 is taken, say by
 * the `npm start` README's first step left running).
 */

const FAKE_OPENAI_KEY = 'sk-demo-openai-not-a-real-key';
const FAKE_ANTHROPIC_KEY = 'sk-ant-demo-not-a-real-key';
const TABLE_EVERY_MS = 3000;
const CALL_EVERY_MS = 1000;
const BACKOFF_MS = 3000;
const TOLLGATE_ENV = /^(TOLLGATE_\w+|DATABASE_URL|OPENAI_API_KEY|ANTHROPIC_API_KEY|PORT|LOG_LEVEL)$/;

type Options = { port: number; portGiven: boolean; seconds: number; speed: number };

function options(): Options {
  const { values } = parseArgs({ options: { port: { type: 'string' } }, strict: true });
  const number = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    const n = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}, got "${raw}"`);
    return n;
  };
  const given = values.port ?? process.env.DEMO_PORT;
  return {
    port: number('DEMO_PORT / --port', given, 8787, 0),
    portGiven: given !== undefined && given !== '',
    seconds: number('DEMO_SECONDS', process.env.DEMO_SECONDS, 60, 1),
    speed: number('DEMO_SPEED', process.env.DEMO_SPEED, 1, 0.1),
  };
}

async function startGateway(port: number, upstreamUrl: string, dataDir: string): Promise<{ app: FastifyInstance; url: string }> {
  // The demo never touches the caller's database or provider keys. loadConfig's `env` argument alone does not
  // keep them out (env-schema merges process.env whatever data it is given), so they leave this process's env.
  for (const name of Object.keys(process.env)) if (TOLLGATE_ENV.test(name)) delete process.env[name];
  const config = loadConfig({
    PORT: port, TOLLGATE_DATA_DIR: dataDir, TOLLGATE_PGLITE_DIR: 'memory://', TOLLGATE_POLICY_WATCH: false,
    TOLLGATE_OPENAI_BASE_URL: upstreamUrl, TOLLGATE_ANTHROPIC_BASE_URL: upstreamUrl,
    OPENAI_API_KEY: FAKE_OPENAI_KEY, ANTHROPIC_API_KEY: FAKE_ANTHROPIC_KEY,
    TOLLGATE_RESERVATION_SWEEP_MS: 500, TOLLGATE_FLUSH_INTERVAL_MS: 100,
  }, {});
  const app = await buildApp(config, false);
  await app.listen({ port: config.port, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function provision(app: FastifyInstance): Promise<{ keys: Map<string, string>; metricsToken: string }> {
  const keys = new Map<string, string>();
  for (const a of DEMO_AGENTS) {
    await upsertBudget(app.tollgate.db, { scope: 'use_case', scopeId: a.useCase, limit: a.budget.limit, unit: a.budget.unit, period: 'month' });
    const k = generateAgentKey();
    await insertAgentKey(app.tollgate.db, { id: k.id, agentId: a.agent, hash: k.hash, prefix: k.prefix, label: 'demo' });
    keys.set(a.agent, k.key);
  }
  const t = generateApiToken();
  await insertApiToken(app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'metrics', label: 'demo' });
  return { keys, metricsToken: t.token };
}

// The Anthropic SDK warns on every call that names a deprecated model (the seed catalog's Sonnet 4.5): once is enough.
function warnOnce(): void {
  const seen = new Set<string>();
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    if (!seen.has(text)) warn(...args);
    seen.add(text);
  };
}

async function main(): Promise<void> {
  const opts = options();
  warnOnce();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-demo-'));
  const upstream = await startFakeUpstream({ openaiKey: FAKE_OPENAI_KEY, anthropicKey: FAKE_ANTHROPIC_KEY, latencyMs: 40, chunkDelayMs: 5 });
  const port = opts.portGiven || (await isFree(opts.port)) ? opts.port : 0;
  const { app, url } = await startGateway(port, upstream.url, dataDir);
  try {
    const { keys, metricsToken } = await provision(app);
    say(`tollgate demo: gateway ${url}, fake OpenAI + Anthropic ${upstream.url}`);
    say(`${DEMO_AGENTS.length} agents of 3 BUs for ${opts.seconds}s (Ctrl-C stops early); meanwhile: curl -H 'Authorization: Bearer ${metricsToken}' ${url}/metrics`);
    say('tiers: notice at 50% of budget, warning 80%, soft_cap 100% (cheaper model served), hard_cap 110% (429)');
    const board = new Board(DEMO_AGENTS, say);
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), opts.seconds * 1000);
    process.once('SIGINT', () => stop.abort());
    // DEMO_UNTIL_SHOWN ends the run as soon as both marketing use cases have been downgraded and stopped:
    // a slow or busy machine then takes longer instead of showing less.
    const untilShown = process.env.DEMO_UNTIL_SHOWN === '1';
    const onCall = (o: Parameters<Board['onCall']>[0]) => {
      board.onCall(o);
      if (untilShown && board.showed(['trade-promo-automation', 'digital-marketing'])) stop.abort();
    };
    const loop = { intervalMs: CALL_EVERY_MS / opts.speed, backoffMs: BACKOFF_MS / opts.speed, signal: stop.signal, onCall };
    const agents = Promise.all(DEMO_AGENTS.map((a) => runAgent(a, keys.get(a.agent)!, url, loop)));
    const ticker = setInterval(() => void board.table(app.tollgate.db).then(say), TABLE_EVERY_MS);
    await agents.finally(() => {
      stop.abort();
      clearTimeout(timer);
      clearInterval(ticker);
    });
    await app.tollgate.meter.flush();
    say(await board.table(app.tollgate.db));
    const period = new Date().toISOString().slice(0, 7);
    say(`\nchargeback, USD (what \`tollgate report chargeback --period ${period}\` prints):`);
    say(formatChargeback(await chargeback(app.tollgate.db, monthRange(period)), 'table', period).trimEnd());
    say('\nnext: `npm start` runs tollgate for real (PGlite in ./.tollgate, port 8787); `npx tollgate agent key create --agent promo-planner`');
    say('gives an agent its key; point the OpenAI SDK at http://localhost:8787/openai/v1, the Anthropic SDK at http://localhost:8787/anthropic;');
    say('then `npx tollgate token create --role metrics` for a scraper token, watch curl -H \'Authorization: Bearer tga_…\' localhost:8787/metrics');
    say('and `npx tollgate report chargeback --period YYYY-MM`.');
  } finally {
    await app.close();
    await upstream.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  console.error(`demo failed: ${e.code === 'EADDRINUSE' ? 'the port is in use; set DEMO_PORT or --port' : (e.message ?? String(err))}`);
  process.exit(1);
});
