import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import type { Config } from '../../src/config.js';
import { createDb, migrateLatest, type Db, type DbTarget } from '../../src/db/knex.js';

/**
 * The database the tests run against: TOLLGATE_TEST_DB=pglite (default, in-memory PGlite) or
 * TOLLGATE_TEST_DB=postgres (a fresh database per call on TOLLGATE_TEST_PG_URL's server).
 */
export const TEST_DB_KIND = process.env.TOLLGATE_TEST_DB === 'postgres' ? 'postgres' : 'pglite';
const ADMIN_URL = process.env.TOLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type TestDb = { db: Db; url?: string; drop(): Promise<void> };

/** A migrated, empty database of the kind under test. */
export async function createTestDb(): Promise<TestDb> {
  if (TEST_DB_KIND === 'pglite') {
    const db = createDb({ kind: 'pglite-memory', loadDataDir: await migratedPglite() });
    await migrateLatest(db);
    return { db, drop: () => db.destroy() };
  }
  const name = `tollgate_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = createDb({ kind: 'postgres', url: url.toString() });
  await migrateLatest(db);
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
const PGLITE_PACKAGE = fileURLToPath(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url));
let template: Promise<Blob> | undefined;

/**
 * A migrated, empty PGlite's data directory, as a dump: a fresh in-memory PGlite runs initdb and then the
 * migrations, about 5 s of CPU, where starting from the dump takes under 1 s. Made once and kept in the
 * system's temporary directory for the other test processes, under a name that changes with the migrations'
 * sources and PGlite's version (a stale dump is never used).
 */
/** What a test app opens: for an in-memory PGlite, one started from the migrated dump; otherwise the configured database. */
export async function testDatabase(config: Config): Promise<DbTarget | undefined> {
  const d = config.database;
  return d.kind === 'pglite' && d.dataDir === 'memory://' ? { kind: 'pglite-memory', loadDataDir: await migratedPglite() } : undefined;
}

function migratedPglite(): Promise<Blob> {
  return (template ??= (async () => {
    const key = crypto.createHash('sha256');
    key.update(fs.readFileSync(PGLITE_PACKAGE));
    for (const f of fs.readdirSync(MIGRATIONS_DIR).sort()) key.update(f).update(fs.readFileSync(path.join(MIGRATIONS_DIR, f)));
    const file = path.join(os.tmpdir(), `tollgate-test-pgdata-${key.digest('hex').slice(0, 16)}.tar`);
    if (fs.existsSync(file)) return new Blob([fs.readFileSync(file)]);
    const db = createDb({ kind: 'pglite-memory' });
    await migrateLatest(db);
    const dump = await (db.client as { pglite: { dumpDataDir(compression: 'none'): Promise<Blob> } }).pglite.dumpDataDir('none');
    await db.destroy();
    // Written aside and renamed: a test process reading it never sees half a file.
    const partial = `${file}.${process.pid}`;
    fs.writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(partial, file);
    return dump;
  })());
}
