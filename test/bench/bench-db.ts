import crypto from 'node:crypto';
import fs from 'node:fs';
import knexFactory from 'knex';
import { createDb, migrateLatest, type Db } from '../../src/db/knex.js';
import { seedDemo } from '../../src/catalog/seed.js';

/** The Postgres server the database benches run on (a scratch database each, dropped at the end). */
export const ADMIN_URL = process.env.BENCH_PG_URL ?? process.env.TOLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type BenchDb = { db: Db; url: string; name: string; drop(): Promise<void> };

/** A fresh `tollgate_bench_<rand>` database, migrated and seeded with the demo catalog. */
export async function createBenchDb(opts: { budgets?: boolean } = {}): Promise<BenchDb> {
  const name = `tollgate_bench_${crypto.randomBytes(5).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = createDb({ kind: 'postgres', url: url.toString() });
  const drop = async () => {
    await db.destroy();
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  };
  try {
    await migrateLatest(db);
    await seedDemo(db, { budgets: opts.budgets ?? false });
  } catch (err) {
    await drop();
    throw err;
  }
  return { db, url: url.toString(), name, drop };
}

/**
 * A filter for postgresCpu: the server's own processes (checkpointer, WAL writer, autovacuum…) and the
 * connections to `db`'s database, not those of anything else running on the same server (a shared machine).
 */
export async function ownPostgres(db: Db): Promise<(pid: string) => boolean> {
  const { rows } = (await db.raw(`select pid::text as pid from pg_stat_activity
    where datname = current_database() or backend_type <> 'client backend'`)) as { rows: { pid: string }[] };
  const pids = new Set(rows.map((r) => r.pid));
  return (pid) => pids.has(pid);
}

export const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
export const ms = (v: number) => `${v.toFixed(2)} ms`;
export const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;

/**
 * CPU time of this machine's postgres processes, from /proc: `postgresCpu()` samples it, `since(sample)` is
 * the µs they used after the sample. A process that started meanwhile counts whole; one that ended meanwhile
 * is left out (its ticks are gone with it), so the figure is a lower bound rather than a negative number.
 * 0 where there is no /proc.
 */
export type PostgresCpu = { since(before: PostgresCpu): number; ticks: ReadonlyMap<string, number> };

export function postgresCpu(only?: (pid: string) => boolean): PostgresCpu {
  const ticks = new Map<string, number>();
  if (fs.existsSync('/proc/self/stat')) {
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d) && (only === undefined || only(d)))) {
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // ended meanwhile
      }
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(pid, Number(fields[11]) + Number(fields[12])); // utime, stime
    }
  }
  const ticksPerSecond = 100; // USER_HZ on Linux
  return {
    ticks,
    since(before) {
      let used = 0;
      for (const [pid, t] of ticks) used += Math.max(0, t - (before.ticks.get(pid) ?? 0));
      return (used * 1e6) / ticksPerSecond;
    },
  };
}
