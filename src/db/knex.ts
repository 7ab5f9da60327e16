import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import type { Config } from '../config.js';
import { MIGRATION_NAMES, migrationSource } from './migrations/index.js';
import { LOCAL_SOCKET_PORT } from './local-socket.js';

// Postgres returns int8 and numeric as strings; token counts fit a JS number safely (< 2^53), money
// stays a string so that it is never rounded through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Db = Knex;

/** `local-socket`: the PGlite of a running serve, through its socket directory (see local-socket.ts). */
export type DbTarget = Config['database'] | { kind: 'pglite-memory'; loadDataDir?: Blob } | { kind: 'local-socket'; dir: string };

export function createDb(target: DbTarget, opts: { asyncCommit?: boolean; poolMax?: number } = {}): Db {
  if (target.kind === 'postgres') {
    // asyncCommit: for statements whose loss in a Postgres crash is harmless (budget reservations are
    // all-or-nothing and expire), skipping the WAL flush per commit takes milliseconds off every call.
    const connection = opts.asyncCommit ? { connectionString: target.url, options: '-c synchronous_commit=off' } : target.url;
    return knexFactory({ client: 'pg', connection, pool: { min: 0, max: opts.poolMax ?? 10 } });
  }
  if (target.kind === 'local-socket') {
    // One connection, as on PGlite itself: there is one session behind the socket, so a second connection
    // would only wait for the first (and deadlock a transaction that awaited it).
    const connection = { host: target.dir, port: LOCAL_SOCKET_PORT, user: 'postgres', database: 'postgres' };
    return knexFactory({ client: 'pg', connection, pool: { min: 0, max: 1 } });
  }
  // loadDataDir: start from a dump of a data directory (tests start from a migrated one: no initdb, no migrations).
  if (target.kind === 'pglite-memory' && target.loadDataDir) {
    return knexFactory({ client: ClientPgLite, dialect: 'postgres', connection: { pglite: new PGlite({ loadDataDir: target.loadDataDir }) } as Knex.StaticConnectionConfig });
  }
  const inMemory = target.kind === 'pglite-memory' || target.dataDir === 'memory://';
  const connection = (inMemory ? {} : { filename: ensureDir(target.dataDir) }) as Knex.StaticConnectionConfig;
  return knexFactory({ client: ClientPgLite, dialect: 'postgres', connection });
}

export async function migrateLatest(db: Db): Promise<string[]> {
  if (await isMigrated(db)) return [];
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/**
 * Whether every migration is applied, in two small queries: knex's migrate.latest takes its lock and inspects
 * the catalog first (about 0.3 s of CPU on PGlite), which every start and every CLI command paid for nothing.
 */
async function isMigrated(db: Db): Promise<boolean> {
  const { rows } = await db.raw("select to_regclass('knex_migrations') is not null as present");
  if (!rows[0]?.present) return false;
  const done = new Set(await db('knex_migrations').pluck<string>('name'));
  return MIGRATION_NAMES.every((name) => done.has(name));
}

export async function pingDb(db: Db): Promise<void> {
  await db.raw('select 1');
}

function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
