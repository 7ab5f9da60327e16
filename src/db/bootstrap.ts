import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { createDb, migrateLatest, type Db, type DbTarget } from './knex.js';
import { isCatalogEmpty } from './catalog.js';
import { seedDemo } from '../catalog/seed.js';

type Log = { info(obj: object, msg: string): void };

/**
 * Opens the configured database, applies migrations and, on a first start with `TOLLGATE_SEED=auto`,
 * seeds the demo catalog. PGlite is single-process: a lock file in its data directory keeps a second
 * process (say, the CLI while `serve` runs) from opening it.
 */
export async function openDatabase(config: Config, opts: { log?: Log; target?: DbTarget; seed?: boolean } = {}): Promise<{ db: Db; close(): Promise<void> }> {
  const target = opts.target ?? config.database;
  const release = target.kind === 'pglite' && target.dataDir !== 'memory://' ? lockPgliteDir(target.dataDir) : () => {};
  try {
    const db = createDb(target);
    const applied = await migrateLatest(db);
    if (applied.length > 0) opts.log?.info({ applied }, 'migrations applied');
    if ((opts.seed ?? config.seed === 'auto') && (await isCatalogEmpty(db))) {
      const seeded = await seedDemo(db);
      opts.log?.info(seeded, 'demo catalog seeded (first start; TOLLGATE_SEED=never turns this off)');
    }
    return { db, close: async () => { await db.destroy(); release(); } };
  } catch (err) {
    release();
    throw err;
  }
}

export class DatabaseLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`the embedded database in ${dir} is in use by process ${pid} (PGlite allows one process): stop it, or set DATABASE_URL to a Postgres server`);
    this.name = 'DatabaseLockedError';
  }
}

function lockPgliteDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(lock, 'utf8'));
      if (pid && pid !== process.pid && isAlive(pid)) throw new DatabaseLockedError(dataDir, pid);
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
