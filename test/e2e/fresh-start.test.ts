import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/demo/fake-upstream.js';
import { UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY, WRITER, tagHeaders } from '../helpers/gateway.js';

/**
 * "A fresh clone answers /readyz after `npm ci && npm start`, with no other service running": the server
 * starts the way `npm start` does (the CLI's `serve`), from an empty working directory, without
 * DATABASE_URL, so that everything it needs (policy bundle, seeds, migrations) must come from the package.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// What `npm start` runs (test/global-setup.ts builds it, as npm ci and npm start do).
const MAIN = path.join(ROOT, 'dist/cli/main.js');

let cwd: string;
let env: NodeJS.ProcessEnv;
let upstream: FakeUpstream;

beforeAll(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-fresh-'));
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOLLGATE_|DATABASE_URL$|PORT$|OPENAI_|ANTHROPIC_)/.test(k)));
  upstream = await startFakeUpstream({ openaiKey: UPSTREAM_OPENAI_KEY, anthropicKey: UPSTREAM_ANTHROPIC_KEY });
});

afterAll(async () => {
  // A test that failed may have left its server running.
  for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await upstream?.close();
  fs.rmSync(cwd, { recursive: true, force: true });
});

type Server = { child: ChildProcess; url(): string | undefined; output(): string };
const servers: Server[] = [];

/**
 * `tollgate serve` on a port the system picks (PORT=0), as its ready log line says. A port found free here and
 * handed to the child could be taken meanwhile by a listen(0) of a test file running alongside.
 */
async function serve(extra: NodeJS.ProcessEnv = {}): Promise<Server> {
  const child = spawn(process.execPath, [MAIN, 'serve'], { cwd, env: { ...env, ...extra, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const server = { child, url: () => /"address":"(http:\/\/[^"]+)"/.exec(output)?.[1], output: () => output };
  servers.push(server);
  return server;
}

/** Polls /readyz until it answers 200 (bounded); returns its body. */
async function ready(server: Server): Promise<{ status: string; checks: Record<string, string> }> {
  // Opening PGlite, migrating and seeding take a few seconds alone, much longer on a busy machine.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`serve exited with ${server.child.exitCode}:\n${server.output()}`);
    const url = server.url();
    const res = url === undefined ? null : await fetch(`${url}/readyz`).catch(() => null);
    if (res?.status === 200) return (await res.json()) as { status: string; checks: Record<string, string> };
    await sleep(200);
  }
  throw new Error(`no 200 from /readyz within 120 s:\n${server.output()}`);
}

/** SIGTERM, then the exit code (bounded). */
async function stop(server: Server): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
  server.child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
  if (code === 'timeout') {
    server.child.kill('SIGKILL');
    throw new Error(`serve did not exit within 30 s of SIGTERM:\n${server.output()}`);
  }
  return code;
}

describe('fresh start', { timeout: 240_000 }, () => {
  const upstreamEnv = () => ({ TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_OPENAI_KEY });
  const cli = async (...args: string[]) => (await promisify(execFile)(process.execPath, [MAIN, ...args], {
    // TOLLGATE_SEED=never: the CLI must find the catalog the server seeded, not seed it itself.
    cwd, env: { ...env, TOLLGATE_SEED: 'never' },
  })).stdout;
  let first: Server;
  let key: string;

  it('answers /readyz from an empty directory with no database server', async () => {
    first = await serve(upstreamEnv());
    const body = await ready(first);
    expect(body).toMatchObject({ status: 'ready', checks: { policy: 'ok', database: 'ok' } });
    expect(fs.existsSync(path.join(cwd, '.tollgate/pgdata'))).toBe(true);
    expect(first.output()).toContain('demo catalog seeded');
  });

  it("follows README's order while it runs: an agent key from the CLI, a call with it, the month's chargeback", async () => {
    key = (await cli('agent', 'key', 'create', '--agent', 'campaign-writer')).trim();
    expect(key).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    const client = new OpenAI({ apiKey: key, baseURL: `${first.url()}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(WRITER) });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const period = new Date().toISOString().slice(0, 7);
    // The meter writes within a flush interval; the report reads the ledger through the running server.
    await expect.poll(() => cli('report', 'chargeback', '--period', period, '--format', 'csv'), { timeout: 30_000, interval: 500 })
      .toMatch(new RegExp(`^${WRITER.bu},${WRITER.use_case},1,`, 'm'));
    expect(response.headers.get('x-tollgate-request-id')).toBeTruthy();
  });

  it('stops cleanly on SIGTERM, taking its lock and its socket along', async () => {
    expect(await stop(first)).toBe(0);
    expect(fs.readdirSync(path.join(cwd, '.tollgate')).sort()).toEqual(['journal', 'pgdata']);
    expect(first.output()).not.toContain('"level":50');
  });

  it('starts again on the same directory (no re-seed, lock released) and serves a call with that key', async () => {
    const server = await serve(upstreamEnv());
    try {
      await ready(server);
      const client = new OpenAI({ apiKey: key, baseURL: `${server.url()}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(WRITER) });
      const { data, response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
      expect(data.choices[0]?.message.content).toBeTruthy();
      expect(response.headers.get('x-tollgate-budget-tier')).toBe('ok');
      expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
      expect(server.output()).not.toContain('demo catalog seeded');
      expect(server.output()).not.toContain('"level":50');
    } finally {
      expect(await stop(server)).toBe(0);
    }
  });
});
