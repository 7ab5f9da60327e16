import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A private PostgreSQL server for fault tests: its own data directory and port, so a test can stop and
 * start it under load without touching the server the other tests share. initdb and postgres refuse to
 * run as root, so as root (CI) they run as the `postgres` OS user.
 */

export type PgServer = {
  port: number;
  dir: string;
  /** A connection URL on this server (database `postgres` unless told). */
  url(database?: string): string;
  start(): Promise<void>;
  /** pg_ctl stop -m fast: open connections are dropped, as in a real outage. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it (immediate) and deletes its directory. */
  destroy(): Promise<void>;
};

/** The newest PostgreSQL bin directory installed (Debian layout), or null. */
export function findPgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

export const PG_BIN = findPgBin();

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const asRoot = process.getuid?.() === 0;

async function pg(bin: string, tool: string, args: string[]): Promise<string> {
  const exe = path.join(bin, tool);
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  try {
    const { stdout } = await run(cmd, argv, { timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

async function chownToPostgres(dir: string): Promise<void> {
  if (!asRoot) return;
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  fs.chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
}

/** initdb into a fresh temp directory (trust auth, user postgres) and start the server. */
export async function createPgServer(): Promise<PgServer> {
  if (!PG_BIN) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql (.ci/postgres.sh installs them)');
  const bin = PG_BIN;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-pg-'));
  fs.chmodSync(dir, 0o700);
  await chownToPostgres(dir);
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  const port = await freePort();
  await pg(bin, 'initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  // fsync off: the tests stop the server cleanly (a checkpoint), and the outage they simulate is the
  // server going away, not the disk losing writes.
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`;
  const server: PgServer = {
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      await pg(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', options, 'start']);
    },
    async stop() {
      await pg(bin, 'pg_ctl', ['-D', data, '-w', '-t', '30', '-m', 'fast', 'stop']);
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    async destroy() {
      await pg(bin, 'pg_ctl', ['-D', data, '-w', '-t', '30', '-m', 'immediate', 'stop']).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
