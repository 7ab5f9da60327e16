import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { anthropicReports } from '../../src/reconcile/anthropic.js';
import { fetchReport } from '../../src/reconcile/fetch.js';
import { openaiReports } from '../../src/reconcile/openai.js';
import { ANTHROPIC_ADMIN, BYPASS_CALLS, OPENAI_ADMIN, startReports, TOLLGATE_CALLS } from '../helpers/reconcile.js';

/** Pulling a report's pages from the fake report APIs: cursors, retries, refusals. No database. */

let reports: FakeReports;
const JUNE = { from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-06-11T00:00:00Z') };

beforeAll(async () => {
  reports = await startReports();
});
afterAll(async () => reports?.close());
beforeEach(() => {
  reports.reset();
  reports.add([...TOLLGATE_CALLS, ...BYPASS_CALLS]);
});

describe('fetchReport', () => {
  it('follows next_page until has_more is false: 10 days at 4 buckets a page are 3 pages, every day once', async () => {
    const pages = await fetchReport(anthropicReports, 'usage', JUNE, { baseUrl: reports.url, adminKey: ANTHROPIC_ADMIN, limit: 4 });
    expect(pages.map((p) => [p.days.length, p.hasMore])).toEqual([[4, true], [4, true], [2, false]]);
    expect(pages.flatMap((p) => p.days)).toEqual(['01', '02', '03', '04', '05', '06', '07', '08', '09', '10'].map((d) => `2026-06-${d}`));
    expect(pages.flatMap((p) => p.usage).map((u) => u.apiKeyId).sort()).toEqual(['apikey_01Laptop', 'apikey_01Tollgate', 'apikey_01Tollgate']);
  });

  it('waits as long as a 429 says (retry-after) before asking again', async () => {
    reports.fail({ path: '/v1/organization/costs', page: 1, status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const pages = await fetchReport(openaiReports, 'cost', JUNE, { baseUrl: reports.url, adminKey: OPENAI_ADMIN, backoffMs: 5 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    // 10 days fit the default page (31 buckets).
    expect(pages).toHaveLength(1);
    expect(reports.requests.map((r) => r.page)).toEqual([1, 1]);
  });

  it('gives up at once on a refusal that retrying cannot help (a wrong admin key)', async () => {
    await expect(fetchReport(openaiReports, 'usage', JUNE, { baseUrl: reports.url, adminKey: 'sk-wrong', backoffMs: 5 }))
      .rejects.toThrow(/\/v1\/organization\/usage\/completions: HTTP 401: .*Incorrect API key/);
    expect(reports.requests).toHaveLength(0);
  });

  it('gives up on an unreachable provider after its attempts', async () => {
    await expect(fetchReport(openaiReports, 'usage', JUNE, { baseUrl: 'http://127.0.0.1:9', adminKey: OPENAI_ADMIN, backoffMs: 5, attempts: 2 }))
      .rejects.toThrow(/unreachable.*after 2 attempts/);
  });
});
