import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { runReconcile } from '../../src/reconcile/runner.js';
import { TEST_DB_KIND } from '../helpers/db.js';
import { BYPASS_CALLS, costOf, meterTollgateCalls, OPENAI_TOLLGATE_KEY, reconcileEnv, startReports, TOLLGATE_CALLS } from '../helpers/reconcile.js';
import { startWebhookReceiver, waitForReceived, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';

/** `shadowSpend` over GraphQL: the providers' reports beside the ledger, who may read it, finance's notice. */

let h: AnalyticsHarness;
let reports: FakeReports;
let receiver: WebhookReceiver;
let finance: string;
const ZERO = '0.000000000000';

async function reconcile() {
  for (const provider of ['openai', 'anthropic'] as const) {
    await runReconcile(h.db, h.app.tollgate.config.reconcile, { provider, from: '2026-06-01', to: '2026-06-05', triggeredBy: 'test', fetch: { limit: 3 } });
  }
}

beforeAll(async () => {
  reports = await startReports();
  reports.add([...TOLLGATE_CALLS, ...BYPASS_CALLS]);
  receiver = await startWebhookReceiver();
  h = await startAnalytics('analytics', reconcileEnv(reports, { TOLLGATE_SHADOW_SPEND_THRESHOLD: '1', TOLLGATE_SHADOW_SPEND_WEBHOOK_URL: `${receiver.url}/finance` }));
  await meterTollgateCalls(h.db);
  await reconcile();
  finance = await h.token('finance');
});
afterAll(async () => {
  await h?.close();
  await reports?.close();
  await receiver?.close();
});

const ROW = 'key { provider day model apiKeyId scopeId } tollgateKey reported metered difference bypass meteringGap costSources reportedTokens { input cachedInput cacheWrite output } requests calls';
type Row = { key: Record<string, string | null>; tollgateKey: boolean | null; reported: string; metered: string; difference: string; bypass: string; meteringGap: string; costSources: string[]; reportedTokens: Record<string, string>; requests: string; calls: string };
type Shadow = { currency: string; from: string; to: string; rows: Row[]; totals: Record<string, string>; coveredDays: { provider: string; day: string }[]; notices: { provider: string; day: string; difference: string; delivery: { status: string } | null }[] };

async function shadowSpend(token: string, args: string) {
  return h.gql<{ shadowSpend: Shadow }>(token, `{ shadowSpend(${args}) { currency from to rows { ${ROW} } totals { reported metered difference bypass meteringGap } coveredDays { provider day } notices { provider day difference delivery { status } } } }`);
}

describe(`shadowSpend (${TEST_DB_KIND})`, () => {
  it('shows the spend tollgate did not meter per model and key, to the cent, and a matching day at zero', async () => {
    const r = await shadowSpend(finance, 'from: "2026-06-01T00:00:00Z", to: "2026-06-05T00:00:00Z", groupBy: [PROVIDER, DAY, MODEL, KEY]');
    expect(r.body.errors).toBeUndefined();
    const s = r.body.data!.shadowSpend;
    expect(s).toMatchObject({ currency: 'USD', from: '2026-06-01T00:00:00.000Z', to: '2026-06-05T00:00:00.000Z' });
    const bypassRows = s.rows.filter((x) => x.tollgateKey === false);
    expect(bypassRows.map((x) => [x.key.provider, x.key.day, x.key.model, x.key.apiKeyId, x.difference])).toEqual([
      ['anthropic', '2026-06-02', 'claude-sonnet-4-5', 'apikey_01Laptop', costOf([BYPASS_CALLS[2]!])],
      ['openai', '2026-06-02', 'gpt-4.1', 'key_laptop', costOf([BYPASS_CALLS[0]!])],
      ['openai', '2026-06-02', 'gpt-4o-mini', 'key_laptop', costOf([BYPASS_CALLS[1]!])],
    ]);
    expect(bypassRows[1]).toMatchObject({ metered: ZERO, bypass: costOf([BYPASS_CALLS[0]!]), meteringGap: ZERO, costSources: ['REPORTED'], requests: '9', calls: '0' });
    for (const own of s.rows.filter((x) => x.tollgateKey === true)) expect(own).toMatchObject({ difference: ZERO, meteringGap: ZERO, bypass: ZERO });
    expect(s.rows.find((x) => x.key.apiKeyId === OPENAI_TOLLGATE_KEY && x.key.day === '2026-06-02')).toMatchObject({ reported: costOf([TOLLGATE_CALLS[0]!]), calls: '1' });
    expect(s.totals).toEqual({
      reported: costOf([...TOLLGATE_CALLS, ...BYPASS_CALLS]), metered: costOf(TOLLGATE_CALLS),
      difference: costOf(BYPASS_CALLS), bypass: costOf(BYPASS_CALLS), meteringGap: ZERO,
    });
    const byDay = await shadowSpend(finance, 'period: "2026-06", groupBy: [DAY]');
    expect(byDay.body.data!.shadowSpend.rows.map((x) => [x.key.day, x.difference])).toEqual([['2026-06-02', costOf(BYPASS_CALLS)], ['2026-06-03', ZERO]]);
    expect(byDay.body.data!.shadowSpend.coveredDays).toHaveLength(8);
  });

  it('tells finance once per provider and day past the threshold, however many runs see it', async () => {
    await reconcile();
    const received = await waitForReceived(receiver, 1, 10_000, 300);
    expect(received).toHaveLength(1);
    const body = received[0]!.body as { text: string; tollgate: Record<string, unknown> };
    const openaiBypass = costOf(BYPASS_CALLS.filter((c) => c.provider === 'openai'));
    expect(body.tollgate).toMatchObject({ kind: 'shadow_spend', provider: 'openai', day: '2026-06-02', difference: openaiBypass, bypass: openaiBypass, metering_gap: ZERO, threshold: '1', recipient: 'finance' });
    expect(body.text).toContain('OpenAI reports');
    const s = (await shadowSpend(finance, 'period: "2026-06", groupBy: [PROVIDER]')).body.data!.shadowSpend;
    expect(s.notices).toEqual([{ provider: 'openai', day: '2026-06-02', difference: openaiBypass, delivery: { status: 'delivered' } }]);
  });

  it('is for finance and admin: a BU owner and the council are refused', async () => {
    expect((await shadowSpend(await h.token('admin'), 'period: "2026-06"')).body.errors).toBeUndefined();
    for (const token of [await h.token('bu-owner', 'marketing'), await h.token('council')]) {
      const r = await shadowSpend(token, 'period: "2026-06"');
      expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('refuses an unknown provider and a range that is not whole days', async () => {
    for (const args of ['period: "2026-06", provider: "azure"', 'from: "2026-06-01T12:00:00Z", to: "2026-06-02T00:00:00Z"', 'period: "2026-13"', 'period: "2026-06", from: "2026-06-01T00:00:00Z"']) {
      const r = await shadowSpend(finance, args);
      expect(r.status, args).toBe(400);
      expect(r.body.errors?.[0]?.extensions?.code, args).toBe('BAD_USER_INPUT');
    }
  });
});
