import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMonth } from '../../src/adjacency/period.js';
import { seedDemo } from '../../src/catalog/seed.js';
import { readAdjacencyRows } from '../../src/db/adjacency-rows.js';
import { upsertBudget } from '../../src/db/budgets.js';
import { loadCatalog } from '../../src/db/catalog.js';
import type { Db } from '../../src/db/knex.js';
import { writeBatch } from '../../src/db/ledger.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

/** What the repository hands the analysis for a month: only what crosses BUs, aggregated in SQL. */

let t: TestDb;
let db: Db;
const SEPT = parseMonth('2026-09');

const call = (id: string, o: { bu: string; uc: string; session: string; parent?: string; ts?: string; cost?: string; tools?: string[] }) => usageEvent(0, {
  request_id: id, ts: o.ts ?? '2026-09-10T10:00:00.000Z', bu_id: o.bu, use_case_id: o.uc, agent_id: 'a', session_id: o.session,
  parent_request_id: o.parent ?? null, cost: o.cost ?? '1.5', ...(o.tools ? { tools: o.tools } : {}),
});

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  await seedDemo(db, { budgets: false });
  await upsertBudget(db, { scope: 'use_case', scopeId: 'digital-marketing', limit: '10', unit: 'usd', period: 'day', maxCalls: null });
  await upsertBudget(db, { scope: 'use_case', scopeId: 'trade-promo-automation', limit: '2000', unit: 'usd', period: 'month', maxCalls: null });
  await upsertBudget(db, { scope: 'use_case', scopeId: 'inventory-management', limit: '900000', unit: 'tokens', period: 'month', maxCalls: null });
  await writeBatch(db, [
    // A session spanning marketing and supply chain, with a call chain from one to the other.
    call('m1', { bu: 'marketing', uc: 'trade-promo-automation', session: 'x', tools: ['inventory_lookup'] }),
    call('s1', { bu: 'supply-chain', uc: 'demand-forecasting', session: 'x', parent: 'm1', tools: ['inventory_lookup', 'sales_history'] }),
    call('s2', { bu: 'supply-chain', uc: 'demand-forecasting', session: 'x', parent: 'm1' }),
    // Same BU only: neither a cross-BU session nor a cross-BU call.
    call('m2', { bu: 'marketing', uc: 'digital-marketing', session: 'y', cost: '2.25' }),
    call('m3', { bu: 'marketing', uc: 'trade-promo-automation', session: 'y', parent: 'm2' }),
    // Another month: ignored.
    call('o1', { bu: 'insurance', uc: 'underwriting-assist', session: 'x', ts: '2026-10-01T00:00:00.000Z' }),
  ]);
});

afterAll(async () => t?.drop());

describe(`adjacency rows (${TEST_DB_KIND})`, () => {
  it('gives every catalog use case with its exact spend from the rollups', async () => {
    const rows = await readAdjacencyRows(db, SEPT);
    expect(rows.period).toEqual({ from: '2026-09-01', to: '2026-10-01' });
    expect(rows.useCases.map((u) => u.id)).toHaveLength(6);
    expect(rows.useCases.find((u) => u.id === 'trade-promo-automation')).toEqual({ id: 'trade-promo-automation', bu: 'marketing', class: 'demand-shaping', spend: 3 });
    expect(rows.exactSpend.get('digital-marketing')).toMatch(/^2\.25/);
    expect(rows.exactSpend.get('underwriting-assist')).toBe('0');
    expect([...rows.dailySpend!].sort((a, b) => a.use_case.localeCompare(b.use_case))).toEqual([
      { use_case: 'demand-forecasting', day: '2026-09-10', cost: 3 },
      { use_case: 'digital-marketing', day: '2026-09-10', cost: 2.25 },
      { use_case: 'trade-promo-automation', day: '2026-09-10', cost: 3 },
    ]);
  });

  it('reads sessions spanning BUs and calls whose parent is in another BU, nothing else', async () => {
    const rows = await readAdjacencyRows(db, SEPT);
    expect([...rows.sessions!].sort((a, b) => a.bu.localeCompare(b.bu))).toEqual([
      { session_id: 'x', use_case: 'trade-promo-automation', bu: 'marketing' },
      { session_id: 'x', use_case: 'demand-forecasting', bu: 'supply-chain' },
    ]);
    const parents = rows.calls!.filter((c) => c.parent_request_id === null);
    expect(parents).toEqual([{ request_id: 'group-0', parent_request_id: null, use_case: 'trade-promo-automation', bu: 'marketing' }]);
    expect(rows.calls!.filter((c) => c.parent_request_id === 'group-0').map((c) => c.use_case)).toEqual(['demand-forecasting', 'demand-forecasting']);
  });

  it('reads tools, the catalog couplings and money budgets over the month', async () => {
    const rows = await readAdjacencyRows(db, SEPT);
    expect([...rows.tools!].sort((a, b) => (a.use_case + a.tool).localeCompare(b.use_case + b.tool))).toEqual([
      { use_case: 'demand-forecasting', tool: 'inventory_lookup', calls: 1 },
      { use_case: 'demand-forecasting', tool: 'sales_history', calls: 1 },
      { use_case: 'trade-promo-automation', tool: 'inventory_lookup', calls: 1 },
    ]);
    expect(rows.couplings).toEqual([
      { from: 'demand-shaping', to: 'demand-planning', weight: 1 },
      { from: 'demand-shaping', to: 'inventory-planning', weight: 0.6 },
    ]);
    // A daily budget counts for each of September's 30 days; token budgets do not compare with spend.
    expect([...rows.budgets!].sort((a, b) => a.use_case.localeCompare(b.use_case))).toEqual([
      { use_case: 'digital-marketing', limit: 300 }, { use_case: 'trade-promo-automation', limit: 2000 },
    ]);
  });

  it('loads the seeded council contact and couplings with the catalog', async () => {
    const catalog = await loadCatalog(db);
    expect(catalog.council).toEqual({ name: 'Governance council', email: 'council@example.com', webhook_url: null });
    expect(catalog.classCouplings).toHaveLength(2);
  });
});
