import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './pg-server.js';
import { UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY } from './gateway.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_LOG_CHARS = 20_000;
const READY_TIMEOUT_MS = 45_000;

/**
 * `tollgate serve` as a real child process (node dist/cli/main.js serve, the compiled CLI test/global-setup.ts builds): its own port, data
 * directory and journal, on a shared Postgres (or a PGlite directory of its own), in front of a fake upstream. It can be killed with any
 * signal and started again on the same data directory, which is what the fault tests need.
 */
export type TollgateProcess = {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** The child's stdout and stderr (last MAX_LOG_CHARS), for failure messages. */
  logs(): string;
  /** Sends the signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts it again on the same port and data directory; resolves when /readyz answers 200. */
  restart(): Promise<void>;
  /** SIGTERM (graceful: in-flight calls finish, the meter flushes), SIGKILL after `graceMs`; removes the data directory. */
  close(graceMs?: number): Promise<void>;
};

export type TollgateProcessOptions = {
  name?: string;
  /** A Postgres database; or `pgliteDir`, an embedded one the child opens alone (prepare it before, read it after). */
  databaseUrl?: string;
  pgliteDir?: string;
  /** Base URL of the fake upstream (both providers). */
  upstreamUrl: string;
  /** Extra environment (TOLLGATE_UPSTREAM_TIMEOUT_MS, ...); wins over the defaults here. */
  env?: Record<string, string>;
};

export async function startTollgateProcess(opts: TollgateProcessOptions): Promise<TollgateProcess> {
  const name = opts.name ?? 'tollgate';
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `tollgate-${name}-`));
  const env: NodeJS.ProcessEnv = {
    ...withoutTollgateEnv(process.env),
    PORT: String(port),
    TOLLGATE_HOST: '127.0.0.1',
    ...(opts.databaseUrl !== undefined ? { DATABASE_URL: opts.databaseUrl } : { TOLLGATE_PGLITE_DIR: opts.pgliteDir }),
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_JOURNAL_DIR: path.join(dataDir, 'journal'),
    TOLLGATE_SEED: 'never',
    TOLLGATE_OPENAI_BASE_URL: opts.upstreamUrl,
    TOLLGATE_ANTHROPIC_BASE_URL: opts.upstreamUrl,
    OPENAI_API_KEY: UPSTREAM_OPENAI_KEY,
    ANTHROPIC_API_KEY: UPSTREAM_ANTHROPIC_KEY,
    LOG_LEVEL: 'warn',
    TOLLGATE_POLICY_WATCH: 'false',
    TOLLGATE_FLUSH_INTERVAL_MS: '50',
    ...opts.env,
  };
  let child: ChildProcess | undefined;
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  };

  async function spawnAndWait(): Promise<void> {
    const c = spawn(process.execPath, ['dist/cli/main.js', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', append);
    c.stderr!.on('data', append);
    const exited = once(c, 'exit');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (c.exitCode !== null || c.signalCode !== null) break;
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return;
      await Promise.race([sleep(100), exited]);
    }
    c.kill('SIGKILL');
    throw new Error(`${name} did not become ready on port ${port}:\n${log}`);
  }

  async function kill(signal: NodeJS.Signals) {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return { code: c?.exitCode ?? null, signal: c?.signalCode ?? null };
    const exited = once(c, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    c.kill(signal);
    const [code, sig] = await exited;
    return { code, signal: sig };
  }

  await spawnAndWait();
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    get pid() {
      return child?.pid;
    },
    logs: () => log,
    kill,
    restart: spawnAndWait,
    async close(graceMs = 10_000) {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The child gets only the settings given here, not whatever the test runner's environment carries. */
function withoutTollgateEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const drop = /^(TOLLGATE_|DATABASE_URL$|PORT$|LOG_LEVEL$|OPENAI_|ANTHROPIC_)/;
  return Object.fromEntries(Object.entries(env).filter(([k]) => !drop.test(k)));
}
