import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { createDb, migrateLatest, pingDb, type Db, type DbTarget } from './knex.js';
import { isCatalogEmpty } from './catalog.js';
import { seedDemo } from '../catalog/seed.js';
import { localSocketDir, localSocketPath } from './local-socket.js';

type Log = { info(obj: object, msg: string): void };

export type OpenOptions = {
  log?: Log;
  target?: DbTarget;
  seed?: boolean;
  /**
   * When serve holds the embedded database, use it through serve's local socket (the CLI) instead of
   * refusing (serve itself: a second process never serves the same PGlite).
   */
  attach?: boolean;
};

/**
 * Opens the configured database, applies migrations and, on a first start with `TOLLGATE_SEED=auto`,
 * seeds the demo catalog. PGlite is single-process: a lock file beside its data directory says which process
 * holds it; with `attach`, another process reaches it through the holder's local socket.
 */
export async function openDatabase(config: Config, opts: OpenOptions = {}): Promise<{ db: Db; close(): Promise<void> }> {
  const target = opts.target ?? config.database;
  const lock = target.kind === 'pglite' && target.dataDir !== 'memory://' ? lockPgliteDir(target.dataDir) : { release: () => {} };
  if ('heldBy' in lock) {
    if (!opts.attach || target.kind !== 'pglite') throw new DatabaseLockedError(lock.dataDir, lock.heldBy, 'serve');
    return prepare(await attach(lock.dataDir, lock.heldBy), config, opts, () => {});
  }
  try {
    return await prepare(createDb(target), config, opts, lock.release);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function prepare(db: Db, config: Config, opts: OpenOptions, release: () => void): Promise<{ db: Db; close(): Promise<void> }> {
  try {
    const applied = await migrateLatest(db);
    if (applied.length > 0) opts.log?.info({ applied }, 'migrations applied');
    if ((opts.seed ?? config.seed === 'auto') && (await isCatalogEmpty(db))) {
      const seeded = await seedDemo(db);
      opts.log?.info(seeded, 'demo catalog seeded (first start; TOLLGATE_SEED=never turns this off)');
    }
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, close: async () => { await db.destroy(); release(); } };
}

/** The embedded database of the running serve `pid`, through its local socket. */
async function attach(dataDir: string, pid: number): Promise<Db> {
  const socket = localSocketPath(dataDir);
  if (!fs.existsSync(socket)) throw new DatabaseLockedError(dataDir, pid, 'not shared');
  const db = createDb({ kind: 'local-socket', dir: localSocketDir(dataDir) });
  try {
    await pingDb(db);
    return db;
  } catch (err) {
    await db.destroy();
    throw new DatabaseLockedError(dataDir, pid, 'not shared', err as Error);
  }
}

export class DatabaseLockedError extends Error {
  constructor(dir: string, pid: number, why: 'serve' | 'not shared', cause?: Error) {
    super(why === 'serve'
      ? `the embedded database in ${dir} is in use by process ${pid} (PGlite allows one process): stop it, or run each replica on a Postgres server (DATABASE_URL) with a journal of its own (TOLLGATE_JOURNAL_DIR)`
      : `the embedded database in ${dir} is in use by process ${pid}, which does not share it${cause ? ` (${cause.message})` : ''}: stop it, or set DATABASE_URL to a Postgres server`, { cause });
    this.name = 'DatabaseLockedError';
  }
}

type Lock = { release(): void } | { heldBy: number; dataDir: string };

function lockPgliteDir(dataDir: string): Lock {
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return { release: () => fs.rmSync(lock, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(lock, 'utf8'));
      if (pid && pid !== process.pid && isAlive(pid)) return { heldBy: pid, dataDir };
      // Take a stale lock over by renaming it away first: of two processes racing here only one rename
      // succeeds, so the other cannot delete a lock that was just written.
      try {
        fs.renameSync(lock, `${lock}.stale-${process.pid}`);
        fs.rmSync(`${lock}.stale-${process.pid}`, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
