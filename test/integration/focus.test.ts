import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/catalog/seed.js';
import { writeBatch, sumLedger } from '../../src/db/ledger.js';
import { closePeriod, focusGroups, periodTotals, PeriodClosedError } from '../../src/db/periods.js';
import { loadPrices } from '../../src/db/prices.js';
import { focusRows, toCsv } from '../../src/analytics/focus.js';
import { resolvePeriod, runChargeback } from '../../src/analytics/chargeback.js';
import { monthRange } from '../../src/budgets/period.js';
import { costOf, createPriceBook } from '../../src/metering/pricing.js';
import { costPerMillion, sum, toMoney } from '../../src/metering/money.js';
import type { UsageEvent } from '../../src/metering/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

let t: TestDb;
let priced: (i: number, ts: string, model: string) => UsageEvent;

beforeAll(async () => {
  t = await createTestDb();
  await seedDemo(t.db, { budgets: false });
  const book = createPriceBook(await loadPrices(t.db));
  priced = (i, ts, model) => {
    const price = book.priceAt(model, new Date(ts))!;
    const e = usageEvent(i, { ts, model_requested: model, model_served: model, bu_id: i % 2 ? 'marketing' : 'insurance', use_case_id: i % 2 ? 'digital-marketing' : 'underwriting-assist', agent_id: 'a', price_id: price.id, provider: model.startsWith('claude') ? 'anthropic' : 'openai' }, 'focus');
    return { ...e, cost: costOf(e, price) };
  };
});
afterAll(() => t.drop());

const billedSum = (rows: { BilledCost: string }[]) => toMoney(sum(rows.map((r) => r.BilledCost)));

describe('FOCUS export and period close', () => {
  it("sums BilledCost to the ledger's month, with one row per token kind priced at list", async () => {
    const events = Array.from({ length: 60 }, (_, i) => priced(i, `2025-11-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z`, i % 3 ? 'claude-sonnet-4-5' : 'gpt-4.1'));
    // An unpriced call keeps its ledger cost on one row.
    events.push(usageEvent(999, { ts: '2025-11-15T00:00:00Z', price_id: null, cost: '0.123456789012' }, 'focus'));
    await writeBatch(t.db, events);
    const rows = focusRows(await focusGroups(t.db, '2025-11'), monthRange('2025-11'));
    const ledger = await sumLedger(t.db, monthRange('2025-11'));
    expect(billedSum(rows)).toBe(ledger.cost);
    for (const r of rows.filter((x) => x.ListUnitPrice !== '')) {
      expect(toMoney(costPerMillion(Number(r.ConsumedQuantity), r.ListUnitPrice))).toBe(r.ListCost);
      expect(r.ChargeCategory).toBe('Usage');
      expect(r.ServiceCategory).toBe('AI and Machine Learning');
      expect(r.BillingPeriodStart).toBe('2025-11-01T00:00:00Z');
      expect(r.BillingPeriodEnd).toBe('2025-12-01T00:00:00Z');
      expect(JSON.parse(r.Tags)).toEqual({ bu: r.x_BusinessUnit, use_case: r.x_UseCase, agent: r.x_Agent });
    }
    const output = rows.find((r) => r.SkuId === 'claude-sonnet-4-5/output')!;
    expect(output.ListUnitPrice).toBe('15.00000000');
    expect(rows.find((r) => r.x_TokenType === 'all')!.BilledCost).toBe('0.123456789012');
    expect(toCsv(rows).split('\n')[0]).toContain('BilledCost,EffectiveCost,ListCost');
  });

  it('bills a late event for a closed month in the next open month as a correction; the closed totals stay', async () => {
    const closed = await closePeriod(t.db, '2025-11', 'test');
    await expect(closePeriod(t.db, '2025-11', 'test')).rejects.toBeInstanceOf(PeriodClosedError);
    const late = priced(5000, '2025-11-20T10:00:00Z', 'claude-sonnet-4-5');
    await writeBatch(t.db, [late]);
    expect(await periodTotals(t.db, '2025-11')).toEqual(closed.totals);
    const dec = await periodTotals(t.db, '2025-12');
    expect(dec.corrections).toEqual({ calls: 1, cost: late.cost });
    const rows = focusRows(await focusGroups(t.db, '2025-12'), monthRange('2025-12'));
    expect(rows.every((r) => r.ChargeClass === 'Correction')).toBe(true);
    expect(rows[0]!.ChargePeriodStart).toBe('2025-11-20T00:00:00Z');
    expect(rows[0]!.BillingPeriodStart).toBe('2025-12-01T00:00:00Z');
    expect(billedSum(rows)).toBe(late.cost);

    // The month's chargeback bills what FOCUS bills: November's figures stay, December carries the late event.
    const chargeback = async (period: string) => (await runChargeback(t.db, { ...resolvePeriod({ period }), groupBy: ['MONTH', 'DAY'], filter: {} }));
    const nov = await chargeback('2025-11');
    expect(nov.totals.cost).toBe(toMoney(closed.totals.cost));
    expect(nov.totals.calls).toBe(String(closed.totals.calls));
    const decChargeback = await chargeback('2025-12');
    const decFocus = focusRows(await focusGroups(t.db, '2025-12'), monthRange('2025-12'));
    expect(decChargeback.totals.cost).toBe(billedSum(decFocus));
    expect(decChargeback.rows).toContainEqual(expect.objectContaining({ key: expect.objectContaining({ month: '2025-12', day: '2025-11-20' }), cost: late.cost }));
    // Asked by time instead, the late event is where it happened.
    const byTime = await runChargeback(t.db, { ...monthRange('2025-11'), groupBy: [], filter: {} });
    expect(byTime.totals.cost).toBe(toMoney(sum([toMoney(closed.totals.cost), late.cost])));
  });

  it('skips every closed month in a row', async () => {
    await closePeriod(t.db, '2025-12', 'test');
    await writeBatch(t.db, [priced(6000, '2025-11-21T10:00:00Z', 'gpt-4.1')]);
    const row = (await t.db('usage_events').where('request_id', 'focus-6000').first('accounting_period')) as { accounting_period: string };
    expect(row.accounting_period).toBe('2026-01');
    // A writer that does not name the column (COPY, psql) gets the same answer from the trigger.
    const { kind: _kind, ...direct } = { ...priced(6001, '2025-11-22T10:00:00Z', 'gpt-4.1') };
    await t.db('usage_events').insert(direct);
    const viaTrigger = (await t.db('usage_events').where('request_id', 'focus-6001').first('accounting_period')) as { accounting_period: string };
    expect(viaTrigger.accounting_period).toBe('2026-01');
  });

  it('scopes the export to one BU in the query', async () => {
    const rows = focusRows(await focusGroups(t.db, '2025-11', { buId: 'insurance' }), monthRange('2025-11'));
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.x_BusinessUnit))).toEqual(new Set(['insurance']));
  });
});

describe('GET /v1/reports/chargeback?format=focus', () => {
  it('serves the FOCUS CSV to finance and only its BU to a BU owner', async () => {
    const { startAnalytics } = await import('./fixtures/analytics.js');
    const h = await startAnalytics();
    try {
      await h.write([usageEvent(1, { ts: '2025-10-02T00:00:00Z', bu_id: 'marketing' }, 'http'), usageEvent(2, { ts: '2025-10-03T00:00:00Z', bu_id: 'insurance' }, 'http')]);
      const get = async (token: string) => h.app.inject({ method: 'GET', url: '/v1/reports/chargeback?period=2025-10&format=focus', headers: { authorization: `Bearer ${token}` } });
      const all = await get(await h.token('finance'));
      expect(all.statusCode).toBe(200);
      expect(all.headers['content-type']).toContain('text/csv');
      expect(all.body.trim().split('\n')).toHaveLength(3);
      const own = (await get(await h.token('bu-owner', 'insurance'))).body.trim().split('\n');
      expect(own).toHaveLength(2);
      expect(own[1]).toContain(',insurance,');
    } finally {
      await h.close();
    }
    // It starts a tollgate of its own (PGlite, migrations): more than the default 30 s on a loaded machine.
  }, 120_000);
});
