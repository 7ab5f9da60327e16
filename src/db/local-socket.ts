import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Db } from './knex.js';

/**
 * The embedded database shared with local processes while `serve` runs: the CLI (or psql) connects to a
 * Unix socket in the data directory and speaks the Postgres protocol to serve's own PGlite.
 *
 * PGlite is one session. A client borrows it through knex-pglite's pool (one connection, the PGlite
 * instance) from its first message until the session is idle again (ReadyForQuery 'I': after Sync or a simple
 * query, outside a transaction), so a client's Parse…Sync or BEGIN…COMMIT never interleaves with serve's own
 * queries or another client's. @electric-sql/pglite-socket was tried and not used for this: its server
 * interleaves clients message by message outside transactions (one client's Bind can meet another's unnamed
 * Parse) and cannot see serve's own transactions, which run on PGlite's query API.
 *
 * Only the user who runs serve can connect: the socket is in a directory of mode 0700 and is itself 0600.
 * That gives nothing the user does not already have: they can read and write the data directory itself.
 */

type Backend = {
  execProtocolRawStream(message: Uint8Array, opts: { onRawData(data: Uint8Array): void }): Promise<void>;
  isInTransaction(): boolean;
};
type Pool = { acquireConnection(): Promise<Backend>; releaseConnection(c: Backend): Promise<unknown> };
type Log = { info(o: object, m: string): void; warn(o: object, m: string): void };

/** Clients find the socket as Postgres names its own: `.s.PGSQL.<port>` in a directory (libpq, pg: `host=<dir>`). */
export const LOCAL_SOCKET_PORT = 5432;
const SOCKET_FILE = `.s.PGSQL.${LOCAL_SOCKET_PORT}`;
/** Linux's sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** A client that holds the session (mid-transaction) and says nothing for this long is disconnected. */
export const IDLE_HOLD_MS = 30_000;
/** Postgres' own limit on a message. */
const MAX_MESSAGE_BYTES = 1 << 30;

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const READY_IDLE = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

/** Where serve puts the socket for the PGlite directory `pgliteDir` (beside it, like its lock file). */
export function localSocketDir(pgliteDir: string): string {
  return path.join(path.dirname(pgliteDir), `${path.basename(pgliteDir)}.socket`);
}

export function localSocketPath(pgliteDir: string): string {
  return path.join(localSocketDir(pgliteDir), SOCKET_FILE);
}

export type LocalSocket = { readonly path: string; close(): Promise<void> };

/**
 * Serves `db` (knex on PGlite) on the local socket of `pgliteDir`. Returns null, with a warning, when the path
 * is too long for a Unix socket: serve then works as before, and the CLI says it cannot attach.
 */
export async function serveLocalSocket(db: Db, pgliteDir: string, log: Log, opts: { idleHoldMs?: number } = {}): Promise<LocalSocket | null> {
  const dir = localSocketDir(pgliteDir);
  const file = localSocketPath(pgliteDir);
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH_BYTES) {
    log.warn({ socket: file }, 'the CLI cannot reach this embedded database while serve runs: its socket path is longer than 107 bytes (use a shorter TOLLGATE_DATA_DIR)');
    return null;
  }
  privateDir(dir);
  // serve holds the PGlite lock, so a socket file here was left by a process that died.
  fs.rmSync(file, { force: true });
  const pool = db.client as Pool;
  const sessions = new Set<Session>();
  const server = net.createServer((socket) => {
    const session = new Session(socket, pool, log, opts.idleHoldMs ?? IDLE_HOLD_MS);
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  fs.chmodSync(file, 0o600);
  log.info({ socket: file }, 'the embedded database is shared with local processes (the CLI) on a Unix socket');
  return {
    path: file,
    async close() {
      const stopped = new Promise((resolve) => server.close(resolve));
      for (const s of sessions) s.end();
      await Promise.all([...sessions].map((s) => s.closed));
      await stopped;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A directory only its owner can enter; one made by another user is refused. */
function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(dir);
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) throw new Error(`${dir} belongs to another user: refusing to put the database socket there`);
  fs.chmodSync(dir, 0o700);
}

/** One client connection: its bytes go to PGlite in whole messages, while it holds the one session. */
class Session {
  private buffer: Buffer = Buffer.alloc(0);
  private started = false;
  private held: Backend | null = null;
  private work: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  /** Named prepared statements the client made: they outlive it in the shared session unless dropped. */
  private readonly named = new Set<string>();
  readonly closed: Promise<void>;

  constructor(private readonly socket: net.Socket, private readonly pool: Pool, private readonly log: Log, private readonly idleHoldMs: number) {
    socket.on('data', (chunk: Buffer) => {
      clearTimeout(this.idleTimer);
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.enqueue(() => this.drain());
    });
    socket.on('error', () => socket.destroy());
    this.closed = new Promise((resolve) => socket.once('close', () => {
      clearTimeout(this.idleTimer);
      this.enqueue(() => this.cleanUp());
      void this.work.then(resolve);
    }));
  }

  end(): void {
    this.socket.destroy();
  }

  private enqueue(step: () => Promise<void>): void {
    this.work = this.work.then(step).catch((err: unknown) => {
      this.log.warn({ err }, 'local database client failed');
      this.socket.destroy();
    });
  }

  private async drain(): Promise<void> {
    if (!this.started && !(await this.startUp())) return;
    const batch: Buffer[] = [];
    let terminate = false;
    while (this.buffer.length >= 5) {
      const length = this.buffer.readInt32BE(1);
      if (length < 4 || length > MAX_MESSAGE_BYTES) return this.fail('08P01', 'invalid message length');
      if (this.buffer.length < length + 1) break;
      const message = this.buffer.subarray(0, length + 1);
      this.buffer = this.buffer.subarray(length + 1);
      if (message[0] === 0x58) { // Terminate
        terminate = true;
        break;
      }
      this.track(message);
      batch.push(message);
    }
    if (batch.length > 0) await this.run(Buffer.concat(batch));
    if (terminate) this.socket.end();
  }

  /** SSL and GSS requests are declined, a cancel request closes (PGlite runs one statement at a time). */
  private async startUp(): Promise<boolean> {
    while (this.buffer.length >= 8) {
      const length = this.buffer.readInt32BE(0);
      if (length < 8 || length > 10_000) {
        this.fail('08P01', 'invalid startup packet');
        return false;
      }
      if (this.buffer.length < length) return false;
      const code = this.buffer.readInt32BE(4);
      this.buffer = this.buffer.subarray(length);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write('N');
      } else if (code === PROTOCOL_3) {
        // The client's own startup parameters are not passed on: they would set serve's session for good.
        this.started = true;
        await this.run(STARTUP);
        return true;
      } else {
        if (code === CANCEL_REQUEST) this.socket.end();
        else this.fail('08P01', 'unsupported protocol version');
        return false;
      }
    }
    return false;
  }

  /** Runs whole messages on the session, holding it until it is idle again. */
  private async run(messages: Buffer): Promise<void> {
    const backend = this.held ?? (this.held = await this.acquire());
    if (!backend) return;
    let tail: Buffer = Buffer.alloc(0);
    await backend.execProtocolRawStream(messages, {
      onRawData: (data) => {
        // A copy: the view is into PGlite's memory, which the next message reuses.
        const copy = Buffer.from(data);
        if (this.socket.writable) this.socket.write(copy);
        tail = copy.length >= READY_IDLE.length ? copy.subarray(-READY_IDLE.length) : Buffer.concat([tail, copy]).subarray(-READY_IDLE.length);
      },
    });
    if (tail.equals(READY_IDLE) && !backend.isInTransaction()) {
      await this.release();
    } else {
      this.idleTimer = setTimeout(() => {
        this.log.warn({ ms: this.idleHoldMs }, 'a local database client held the embedded database idle too long: disconnected, its transaction rolled back');
        this.socket.destroy();
      }, this.idleHoldMs).unref();
    }
  }

  private async acquire(): Promise<Backend | null> {
    try {
      return await this.pool.acquireConnection();
    } catch (err) {
      this.fail('57P03', `the embedded database is not available: ${(err as Error).message}`);
      return null;
    }
  }

  private async release(): Promise<void> {
    const backend = this.held;
    this.held = null;
    if (backend) await this.pool.releaseConnection(backend);
  }

  /** Parse ('P') and Close ('C', 'S'tatement) name statements; the rest need no tracking. */
  private track(message: Buffer): void {
    if (message[0] === 0x50) {
      const name = cString(message, 5);
      if (name) this.named.add(name);
    } else if (message[0] === 0x43 && message[5] === 0x53) {
      this.named.delete(cString(message, 6));
    }
  }

  /** Gives the session back as the client found it: no open transaction, no statements of its own. */
  private async cleanUp(): Promise<void> {
    if (!this.held && this.named.size === 0) return;
    const backend = this.held ?? (await this.acquire());
    this.held = backend;
    if (!backend) return;
    try {
      const quiet = { onRawData: () => {} };
      await backend.execProtocolRawStream(SYNC, quiet);
      if (backend.isInTransaction()) await backend.execProtocolRawStream(query('ROLLBACK'), quiet);
      for (const name of this.named) await backend.execProtocolRawStream(query(`DEALLOCATE "${name.replace(/"/g, '""')}"`), quiet);
    } finally {
      await this.release();
    }
  }

  private fail(code: string, message: string): void {
    if (this.socket.writable) this.socket.end(errorResponse(code, message));
    else this.socket.destroy();
  }
}

const STARTUP = startupMessage({ user: 'postgres', database: 'postgres' });

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.from(`${Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join('')}\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(PROTOCOL_3, 4);
  return Buffer.concat([head, body]);
}

function query(sql: string): Buffer {
  return typed(0x51, Buffer.from(`${sql}\0`));
}

function errorResponse(code: string, message: string): Buffer {
  return typed(0x45, Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`));
}

function typed(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end < 0 ? buf.length : end);
}
