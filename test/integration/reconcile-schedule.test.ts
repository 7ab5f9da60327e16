import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/catalog/seed.js';
import type { Db } from '../../src/db/knex.js';
import { claimRun, failRun, listRuns } from '../../src/db/reconcile.js';
import type { FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { createReconcileSchedule } from '../../src/reconcile/schedule.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { reconcileSettings, startReports, TOLLGATE_CALLS } from '../helpers/reconcile.js';
import { silentLog } from './fixtures/events.js';

/** The analytics role's daily timer: the last complete days of each provider with an admin key, one run at a time. */

let t: TestDb;
let db: Db;
let reports: FakeReports;
const JUNE_5_NOON = () => new Date('2026-06-05T12:00:00Z');

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  await seedDemo(db);
  reports = await startReports();
  reports.add(TOLLGATE_CALLS);
});
afterAll(async () => {
  await reports?.close();
  await t?.drop();
});

describe(`reconcile schedule (${TEST_DB_KIND})`, () => {
  it('pulls the last complete days of every provider with an admin key on its timer, and stops cleanly', async () => {
    const schedule = createReconcileSchedule({ db, log: silentLog, settings: reconcileSettings(reports, { TOLLGATE_RECONCILE_LOOKBACK_DAYS: '2' }), intervalMs: 50, now: JUNE_5_NOON });
    schedule.start();
    const deadline = Date.now() + 20_000;
    while ((await listRuns(db)).filter((r) => r.status === 'done').length < 2 && Date.now() < deadline) await sleep(25);
    await schedule.stop();
    const runs = await listRuns(db);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.map((r) => [r.provider, r.from_day, r.to_day, r.triggered_by])).toContainEqual(['openai', '2026-06-03', '2026-06-05', 'schedule']);
    expect(runs.map((r) => r.provider)).toContain('anthropic');
    await sleep(200);
    expect((await listRuns(db)).length).toBe(runs.length);
  });

  it('skips a provider without an admin key, and never starts with an interval of 0', async () => {
    const before = (await listRuns(db)).length;
    const openaiOnly = createReconcileSchedule({ db, log: silentLog, settings: { ...reconcileSettings(reports), providers: { ...reconcileSettings(reports).providers, anthropic: { baseUrl: reports.url } } }, intervalMs: 0, now: JUNE_5_NOON });
    openaiOnly.start();
    await sleep(150);
    expect((await listRuns(db)).length).toBe(before);
    expect(Object.keys(await openaiOnly.runOnce())).toEqual(['openai']);
    await openaiOnly.stop();
  });

  it('skips a provider while another replica holds its run, and runs it once the claim is released', async () => {
    const settings = reconcileSettings(reports);
    const held = await claimRun(db, { provider: 'openai', fromDay: '2026-06-01', toDay: '2026-06-02', source: 'api', triggeredBy: 'other-replica', leaseMs: 60_000 });
    const schedule = createReconcileSchedule({ db, log: silentLog, settings, intervalMs: 0, now: JUNE_5_NOON });
    const round = await schedule.runOnce();
    expect(round.openai).toBeNull();
    expect(round.anthropic?.run.status).toBe('done');
    await failRun(db, held!.id, 'the other replica died');
    expect((await schedule.runOnce()).openai?.run.status).toBe('done');
  });
});
