import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/catalog/seed.js';
import type { Db } from '../../src/db/knex.js';
import { listRuns, readCoveredDays, readLedgerDays, readReportRows } from '../../src/db/reconcile.js';
import type { FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { shadowSpend } from '../../src/reconcile/compare.js';
import { runReconcile } from '../../src/reconcile/runner.js';
import type { ReportProvider } from '../../src/reconcile/types.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import {
  ANTHROPIC_TOLLGATE_KEY, BYPASS_CALLS, costOf, meterTollgateCalls, OPENAI_TOLLGATE_KEY, reconcileSettings, startReports, TOLLGATE_CALLS,
} from '../helpers/reconcile.js';

/** A reconciliation run against the fake report APIs: every page, one transaction, shadow spend to the cent. */

let t: TestDb;
let db: Db;
let reports: FakeReports;
const FAST = { limit: 2, backoffMs: 5, attempts: 3 };

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  await seedDemo(db);
  await meterTollgateCalls(db);
  reports = await startReports();
});
afterAll(async () => {
  await reports?.close();
  await t?.drop();
});
beforeEach(() => {
  reports.reset();
  reports.add([...TOLLGATE_CALLS, ...BYPASS_CALLS]);
});

const run = (provider: ReportProvider, extra: Partial<Parameters<typeof runReconcile>[2]> = {}) =>
  runReconcile(db, reconcileSettings(reports), { provider, from: '2026-06-01', to: '2026-06-05', triggeredBy: 'test', fetch: FAST, ...extra });

async function shadow(provider: ReportProvider, groupBy: Parameters<typeof shadowSpend>[0]['groupBy']) {
  const range = { provider, from: '2026-06-01', to: '2026-06-05' };
  const [report, ledger, covered] = await Promise.all([readReportRows(db, range), readLedgerDays(db, range), readCoveredDays(db, range)]);
  return shadowSpend({ report, ledger, covered, tollgateKeys: { openai: OPENAI_TOLLGATE_KEY, anthropic: ANTHROPIC_TOLLGATE_KEY }, groupBy });
}

const bypass = (provider: ReportProvider, day: string, model: string) => BYPASS_CALLS.filter((c) => c.provider === provider && c.day === day && c.model.startsWith(model));

describe(`reconcile run (${TEST_DB_KIND})`, () => {
  it('pulls every page of both OpenAI reports and shows the bypass per model and key, to the cent; a matching day shows zero', async () => {
    const summary = await run('openai');
    expect(summary).toMatchObject({ days: 4, pages: 4, notices: 0 });
    // 4 days at 2 buckets a page: two pages of each report, the second asked for with the first's cursor.
    expect(reports.requests.map((r) => [r.path, r.page])).toEqual([
      ['/v1/organization/usage/completions', 1], ['/v1/organization/usage/completions', 2], ['/v1/organization/costs', 1], ['/v1/organization/costs', 2],
    ]);
    expect(reports.requests[1]!.query).toMatch(/(^|&)page=/);
    expect(reports.requests[0]!.query).toContain('group_by%5B%5D=api_key_id');

    const byKey = await shadow('openai', ['DAY', 'MODEL', 'KEY']);
    expect(byKey.rows.map((r) => [r.key.day, r.key.model, r.key.apiKeyId, r.tollgateKey, r.reported, r.metered, r.difference])).toEqual([
      ['2026-06-02', 'gpt-4.1', 'key_laptop', false, costOf(bypass('openai', '2026-06-02', 'gpt-4.1')), '0.000000000000', costOf(bypass('openai', '2026-06-02', 'gpt-4.1'))],
      ['2026-06-02', 'gpt-4.1', OPENAI_TOLLGATE_KEY, true, costOf([TOLLGATE_CALLS[0]!]), costOf([TOLLGATE_CALLS[0]!]), '0.000000000000'],
      ['2026-06-02', 'gpt-4o-mini', 'key_laptop', false, costOf(bypass('openai', '2026-06-02', 'gpt-4o-mini')), '0.000000000000', costOf(bypass('openai', '2026-06-02', 'gpt-4o-mini'))],
      ['2026-06-03', 'gpt-4.1', OPENAI_TOLLGATE_KEY, true, costOf([TOLLGATE_CALLS[1]!]), costOf([TOLLGATE_CALLS[1]!]), '0.000000000000'],
    ]);
    expect(byKey.rows[0]!.reportedTokens).toEqual({ input: 333_333, cachedInput: 1_111, cacheWrite: 0, output: 77_777 });
    const byDay = await shadow('openai', ['DAY']);
    expect(byDay.rows.map((r) => [r.key.day, r.difference, r.bypass, r.meteringGap])).toEqual([
      ['2026-06-02', costOf(bypass('openai', '2026-06-02', '')), costOf(bypass('openai', '2026-06-02', '')), '0.000000000000'],
      ['2026-06-03', '0.000000000000', '0.000000000000', '0.000000000000'],
    ]);
    expect(byDay.coveredDays.map((d) => d.day)).toEqual(['2026-06-01', '2026-06-02', '2026-06-03', '2026-06-04']);
  });

  it('splits an Anthropic cost line over the keys that used the model in the workspace, by their tokens of each kind', async () => {
    expect(await run('anthropic')).toMatchObject({ days: 4, pages: 4 });
    const byKey = await shadow('anthropic', ['DAY', 'MODEL', 'KEY', 'SCOPE']);
    expect(byKey.rows.map((r) => [r.key.day, r.key.model, r.key.apiKeyId, r.key.scopeId, r.reported, r.difference, r.costSources])).toEqual([
      ['2026-06-02', 'claude-sonnet-4-5', 'apikey_01Laptop', 'wrkspc_agents', costOf([BYPASS_CALLS[2]!]), costOf([BYPASS_CALLS[2]!]), ['allocated']],
      ['2026-06-02', 'claude-sonnet-4-5', ANTHROPIC_TOLLGATE_KEY, 'wrkspc_agents', costOf([TOLLGATE_CALLS[2]!]), '0.000000000000', ['allocated']],
      ['2026-06-03', 'claude-haiku-4-5', ANTHROPIC_TOLLGATE_KEY, 'wrkspc_agents', costOf([TOLLGATE_CALLS[3]!]), '0.000000000000', ['allocated']],
    ]);
    expect(reports.requests.find((r) => r.path === '/v1/organizations/cost_report')!.query).toContain('group_by%5B%5D=description');
  });

  it('retries a page that fails mid-pagination and then stores the whole range', async () => {
    reports.fail({ path: '/v1/organization/costs', page: 2, status: 500 });
    expect(await run('openai')).toMatchObject({ pages: 4 });
    expect(reports.requests.filter((r) => r.path === '/v1/organization/costs').map((r) => r.page)).toEqual([1, 2, 2]);
  });

  it('regression: a page that keeps failing mid-pagination leaves nothing half-written, and the next run stores it all', async () => {
    const before = await readReportRows(db, { provider: 'openai', from: '2026-06-01', to: '2026-06-05' });
    reports.add([{ ...BYPASS_CALLS[0]!, day: '2026-06-04', apiKeyId: 'key_ci' }]);
    reports.fail({ path: '/v1/organization/costs', page: 2, status: 503, times: 3 });
    await expect(run('openai')).rejects.toThrow(/HTTP 503.*after 3 attempts/);
    expect(await readReportRows(db, { provider: 'openai', from: '2026-06-01', to: '2026-06-05' })).toEqual(before);
    const [failed] = await listRuns(db, { provider: 'openai', limit: 1 });
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringContaining('HTTP 503') });

    expect(await run('openai')).toMatchObject({ pages: 4 });
    const after = await shadow('openai', ['DAY', 'KEY']);
    expect(after.rows.find((r) => r.key.day === '2026-06-04')).toMatchObject({ key: { apiKeyId: 'key_ci' }, difference: costOf([BYPASS_CALLS[0]!]) });
  });

  it('one run of a provider at a time: a second claim while one runs gives up (try)', async () => {
    reports.fail({ path: '/v1/organization/usage/completions', page: 1, status: 500, times: 1 });
    const slow = run('openai', { fetch: { ...FAST, backoffMs: 300 } });
    await new Promise((r) => setTimeout(r, 100));
    expect(await run('openai', { lock: 'try' })).toBeNull();
    expect(await slow).toMatchObject({ pages: 4 });
  });
});
