import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDb, type Db } from '../../src/db/knex.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from './db.js';

/** The CLI as users run it: each command a process of its own, the compiled CLI (test/global-setup.ts builds it). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = path.join(ROOT, 'dist/cli/main.js');

export type Run = { code: number; stdout: string; stderr: string };

export function runCli(cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * The environment CLI processes run with: the test's own tollgate settings left out, and on the Postgres run
 * a fresh database (closed here, so that only the CLI holds connections to it).
 */
export async function cliEnvironment(): Promise<{ env: NodeJS.ProcessEnv; pg?: TestDb }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOLLGATE_|DATABASE_URL$|PORT$)/.test(k)));
  if (TEST_DB_KIND !== 'postgres') return { env };
  const pg = await createTestDb();
  await pg.db.destroy();
  return { env: { ...env, DATABASE_URL: pg.url }, pg };
}

/** The CLI's database, opened from the test while no CLI process holds it (PGlite allows one process). */
export async function withCliDb<T>(pg: TestDb | undefined, cwd: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = pg ? createDb({ kind: 'postgres', url: pg.url! }) : createDb({ kind: 'pglite', dataDir: path.join(cwd, '.tollgate/pgdata') });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}
