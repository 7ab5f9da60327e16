import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * The coding agents CI runs through tollgate, installed by .ci/agents.sh from test/agents/ (pinned versions,
 * lockfile) into a cache outside the repository; how to run one headless; and a trap for any traffic that would go
 * around the gateway.
 */

export const AGENTS_DIR = process.env.TOLLGATE_TEST_AGENTS_DIR ?? path.join(os.homedir(), '.cache', 'tollgate', 'agents');
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false';
const MANIFEST = JSON.parse(fs.readFileSync(new URL('../agents/package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

export type AgentCli = {
  /** The executable in the cache's node_modules/.bin. */
  bin: string;
  pinned: string;
  /** The installed version, or null when it is not installed. */
  installed: string | null;
  /** Why the tests are skipped ('' to run them): outside CI a missing agent skips; in CI it fails. */
  skip: string;
};

export function agentCli(pkg: '@anthropic-ai/claude-code' | '@openai/codex' | '@google/gemini-cli', bin: string): AgentCli {
  const pinned = MANIFEST.dependencies[pkg]!;
  let installed: string | null = null;
  try {
    installed = (JSON.parse(fs.readFileSync(path.join(AGENTS_DIR, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    installed = null;
  }
  const missing = installed !== pinned ? `${pkg}@${pinned} is not installed in ${AGENTS_DIR} (bash .ci/agents.sh)` : '';
  return { bin: path.join(AGENTS_DIR, 'node_modules', '.bin', bin), pinned, installed, skip: IN_CI ? '' : missing };
}

/** An HTTP(S) proxy that refuses every connection and remembers it: agents are pointed at it for anything not on loopback. */
export type SideChannelTrap = {
  url: string;
  /** The first line of each connection (`CONNECT host:443 HTTP/1.1`, or a plain HTTP request line). */
  seen: string[];
  /** Connections opened, whether or not they sent a line. */
  connections(): number;
  close(): Promise<void>;
};

export async function startSideChannelTrap(): Promise<SideChannelTrap> {
  const seen: string[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n');
      if (end === -1 && head.length < 8192) return;
      seen.push(end === -1 ? head : head.slice(0, end));
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Every proxy variable an agent may read points at the trap; loopback (tollgate) is reached directly. */
export function proxyEnv(trap: SideChannelTrap): Record<string, string> {
  return {
    HTTPS_PROXY: trap.url, HTTP_PROXY: trap.url, ALL_PROXY: trap.url, https_proxy: trap.url, http_proxy: trap.url, all_proxy: trap.url,
    NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost',
  };
}

/**
 * For an agent that runs on Node: test/helpers/net-trap.mjs preloaded (NODE_OPTIONS), so that a socket to anything
 * but loopback is refused and written to `log` (`connect host:port`), whether or not its client reads the proxy
 * variables; each process that loaded the trap writes `load <pid>`.
 */
export function netTrapEnv(log: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${new URL('./net-trap.mjs', import.meta.url).href}`, TOLLGATE_NET_TRAP_LOG: log };
}

/** What the network trap wrote to `log`: the processes that loaded it, and the connections it refused. */
export function netTrapped(log: string): { loads: number; connects: string[] } {
  const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { loads: lines.filter((l) => l.startsWith('load ')).length, connects: lines.filter((l) => l.startsWith('connect ')) };
}

export type CliRun = { code: number | null; stdout: string; stderr: string };

/**
 * Runs an agent with nothing from this process's environment but PATH: its own HOME (no user settings, logins or
 * caches), and only the variables given.
 */
export function runCli(bin: string, args: readonly string[], opts: { env: Record<string, string>; cwd: string; timeoutMs?: number }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', TERM: 'dumb', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 110_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh directory under the OS temp dir, for an agent's HOME or working tree. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tollgate-${prefix}-`));
}
