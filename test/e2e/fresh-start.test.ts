import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

let cwd: string;
let env: NodeJS.ProcessEnv;
let upstream: FakeUpstream;

beforeAll(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-fresh-'));
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOLLGATE_|DATABASE_URL$|PORT$|OPENAI_|ANTHROPIC_)/.test(k)));
  upstream = await startFakeUpstream({ openaiKey: UPSTREAM_OPENAI_KEY, anthropicKey: UPSTREAM_ANTHROPIC_KEY });
});

afterAll(async () => {
  await upstream?.close();
  fs.rmSync(cwd, { recursive: true, force: true });
});

type Server = { child: ChildProcess; url(): string | undefined; output(): string };

/**
 * `tollgate serve` on a port the system picks (PORT=0), as its ready log line says. A port found free here and
 * handed to the child could be taken meanwhile by a listen(0) of a test file running alongside.
 */
async function serve(extra: NodeJS.ProcessEnv = {}): Promise<Server> {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve'], { cwd, env: { ...env, ...extra, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, url: () => /"address":"(http:\/\/[^"]+)"/.exec(output)?.[1], output: () => output };
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
  let key: string;

  it('answers /readyz from an empty directory with no database server, and stops cleanly on SIGTERM', async () => {
    const server = await serve();
    try {
      const body = await ready(server);
      expect(body).toMatchObject({ status: 'ready', checks: { policy: 'ok', database: 'ok' } });
      expect(fs.existsSync(path.join(cwd, '.tollgate/pgdata'))).toBe(true);
      expect(server.output()).toContain('demo catalog seeded');
    } finally {
      expect(await stop(server)).toBe(0);
    }
    expect(fs.existsSync(path.join(cwd, '.tollgate/pgdata.lock'))).toBe(false);
  });

  it('seeded the demo catalog: an agent key for a catalogued agent can be created once the server is stopped', async () => {
    // TOLLGATE_SEED=never: the CLI must find the catalog the server seeded, not seed it itself.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', TSX, MAIN, 'agent', 'key', 'create', '--agent', 'campaign-writer'], {
      cwd, env: { ...env, TOLLGATE_SEED: 'never' },
    });
    key = stdout.trim();
    expect(key).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
  });

  it('starts again on the same directory (no re-seed, lock released) and serves a call with that key', async () => {
    const server = await serve({ TOLLGATE_OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_OPENAI_KEY });
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
