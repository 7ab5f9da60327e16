import crypto from 'node:crypto';
import knexFactory from 'knex';
import { createDb, migrateLatest, type Db } from '../../src/db/knex.js';

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
    const db = createDb({ kind: 'pglite-memory' });
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
