import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usageByRequestId, writeBatch } from '../../src/db/ledger.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

/** usage_events.tools and tool_usage_daily, as the ledger writer keeps them (migration 012). */

type DailyRow = { day: string; bu_id: string; use_case_id: string; tool: string; calls: number };

async function daily(t: TestDb): Promise<DailyRow[]> {
  const rows = (await t.db('tool_usage_daily')
    .select(t.db.raw(`to_char(day, 'YYYY-MM-DD') as day`), 'bu_id', 'use_case_id', 'tool', 'calls')
    .orderBy(['day', 'use_case_id', 'tool', 'bu_id'])) as DailyRow[];
  return rows.map((r) => ({ ...r, calls: Number(r.calls) }));
}

describe('tools in the ledger', () => {
  let t: TestDb;
  beforeEach(async () => {
    t = await createTestDb();
  });
  afterEach(async () => {
    await t.drop();
  });

  it('stores the names as text[], and null for a call without tools or journaled before tools were metered', async () => {
    const legacy = usageEvent(3);
    delete legacy.tools;
    await writeBatch(t.db, [
      usageEvent(1, { tools: ['inventory_lookup', 'promo_calendar', 'web_search'] }),
      usageEvent(2, { tools: [] }),
      legacy,
      usageEvent(4, { tools: ['a.b:c-d_e'] }),
    ]);
    expect((await usageByRequestId(t.db, 'req-1'))!.tools).toEqual(['inventory_lookup', 'promo_calendar', 'web_search']);
    expect((await usageByRequestId(t.db, 'req-2'))!.tools).toBeNull();
    expect((await usageByRequestId(t.db, 'req-3'))!.tools).toBeNull();
    expect((await usageByRequestId(t.db, 'req-4'))!.tools).toEqual(['a.b:c-d_e']);
    const { n } = (await t.db('usage_events').whereRaw(`'promo_calendar' = any(tools)`).first(t.db.raw('count(*)::int as n'))) as { n: number };
    expect(n).toBe(1);
  });

  it('counts calls per UTC day, BU, use case and tool, from rows actually inserted only', async () => {
    const promo = { bu_id: 'marketing', use_case_id: 'trade-promo' };
    const forecast = { bu_id: 'supply-chain', use_case_id: 'demand-forecast' };
    const events = [
      usageEvent(1, { ...promo, ts: '2025-03-10T00:00:00.000Z', tools: ['inventory_lookup', 'promo_calendar'] }),
      usageEvent(2, { ...promo, ts: '2025-03-10T23:59:59.999Z', tools: ['inventory_lookup'] }),
      // 01:30 UTC on the 11th, though the 10th in its own offset.
      usageEvent(3, { ...promo, ts: '2025-03-10T20:30:00-05:00', tools: ['inventory_lookup'] }),
      usageEvent(4, { ...forecast, ts: '2025-03-10T12:00:00.000Z', tools: ['inventory_lookup', 'sales_history'] }),
      usageEvent(5, { ...forecast, ts: '2025-03-10T12:00:00.000Z' }),
    ];
    expect(await writeBatch(t.db, events)).toEqual({ usageInserted: 5, decisionsInserted: 0 });
    const expected = [
      { day: '2025-03-10', ...forecast, tool: 'inventory_lookup', calls: 1 },
      { day: '2025-03-10', ...forecast, tool: 'sales_history', calls: 1 },
      { day: '2025-03-10', ...promo, tool: 'inventory_lookup', calls: 2 },
      { day: '2025-03-10', ...promo, tool: 'promo_calendar', calls: 1 },
      { day: '2025-03-11', ...promo, tool: 'inventory_lookup', calls: 1 },
    ];
    expect(await daily(t)).toEqual(expected);

    // A replay (journal written twice) and a request id repeated within a batch add nothing.
    expect(await writeBatch(t.db, [...events, events[0]!])).toEqual({ usageInserted: 0, decisionsInserted: 0 });
    expect(await daily(t)).toEqual(expected);

    // A new call adds to the existing rows.
    await writeBatch(t.db, [usageEvent(6, { ...forecast, ts: '2025-03-10T06:00:00.000Z', tools: ['sales_history'] })]);
    expect((await daily(t)).find((r) => r.use_case_id === 'demand-forecast' && r.tool === 'sales_history')!.calls).toBe(2);
  });

  it('keeps the counts exact over a batch larger than one statement', async () => {
    const events = Array.from({ length: 6_001 }, (_, i) => usageEvent(i, { tools: i % 3 === 0 ? ['inventory_lookup'] : ['inventory_lookup', 'sales_history'] }));
    await writeBatch(t.db, events);
    const rows = await daily(t);
    expect(rows.map((r) => [r.tool, r.calls])).toEqual([['inventory_lookup', 6_001], ['sales_history', 4_000]]);
  });
});
