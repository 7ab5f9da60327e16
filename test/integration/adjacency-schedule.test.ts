import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADJACENCY_LOCK_KEY } from '../../src/adjacency/runner.js';
import { createAdjacencySchedule } from '../../src/adjacency/schedule.js';
import { seedDemo } from '../../src/catalog/seed.js';
import type { Db } from '../../src/db/knex.js';
import { writeShockMonth } from '../helpers/adjacency-month.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { silentLog } from './fixtures/events.js';

/** The analytics role's timer: runs the current month, one replica at a time, and stops cleanly. */

let t: TestDb;
let db: Db;
const JUNE_15 = () => new Date('2026-06-15T12:00:00Z');

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  await seedDemo(db);
  await writeShockMonth(db, { period: '2026-06' });
});
afterAll(async () => t?.drop());

const runs = async () => (await db('adjacency_runs').orderBy('id').select('period', 'triggered_by', 'alerts_raised')) as { period: string; triggered_by: string; alerts_raised: number }[];

describe(`adjacency schedule (${TEST_DB_KIND})`, () => {
  it('runs the current month on its timer and stops cleanly, waiting for the round in progress', async () => {
    const schedule = createAdjacencySchedule({ db, log: silentLog, intervalMs: 50, now: JUNE_15 });
    schedule.start();
    const deadline = Date.now() + 20_000;
    while ((await runs()).length === 0 && Date.now() < deadline) await sleep(25);
    await schedule.stop();
    const after = (await runs()).length;
    expect(after).toBeGreaterThanOrEqual(1);
    expect((await runs())[0]).toEqual({ period: '2026-06', triggered_by: 'schedule', alerts_raised: 1 });
    await sleep(200);
    expect((await runs()).length).toBe(after);
    expect(Number(((await db('adjacency_alerts').count({ n: '*' }).first()) as { n: string | number }).n)).toBe(1);
  });

  it('never starts with an interval of 0 (the gateway role, or turned off)', async () => {
    const before = (await runs()).length;
    const off = createAdjacencySchedule({ db, log: silentLog, intervalMs: 0, now: JUNE_15 });
    off.start();
    await sleep(150);
    await off.stop();
    expect((await runs()).length).toBe(before);
  });

  it.runIf(TEST_DB_KIND === 'postgres')('skips a round while another replica holds the lock', async () => {
    const schedule = createAdjacencySchedule({ db, log: silentLog, intervalMs: 60_000, now: JUNE_15 });
    const before = (await runs()).length;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?)', [ADJACENCY_LOCK_KEY]);
      locked();
      await released;
    });
    await isLocked;
    expect(await schedule.runOnce()).toBeNull();
    release();
    await holder;
    expect((await schedule.runOnce())?.run.triggered_by).toBe('schedule');
    expect((await runs()).length).toBe(before + 1);
  });
});
