import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticBatches } from '../../src/analytics/synthetic.js';
import { seedDemo } from '../../src/catalog/seed.js';
import { runSynthetic, syntheticCatalog } from '../../src/cli/synthetic.js';
import { countDecisions, sumLedger } from '../../src/db/ledger.js';
import { loadPrices } from '../../src/db/prices.js';
import { createPriceBook } from '../../src/metering/pricing.js';
import type { UsageEvent } from '../../src/metering/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const OPTS = { events: 3000, months: 2, seed: 42, until: new Date('2026-01-01T00:00:00Z') };
let t: TestDb;

beforeAll(async () => {
  t = await createTestDb();
  await seedDemo(t.db, { budgets: false });
});
afterAll(() => t.drop());

describe('synthetic traffic', () => {
  it('is deterministic for a seed and differs across seeds', async () => {
    const rows = await loadPrices(t.db);
    const catalog = await syntheticCatalog(t.db, rows);
    const book = createPriceBook(rows);
    const gen = (seed: number) => [...syntheticBatches(catalog, book, { ...OPTS, seed }, 700)].flat();
    const a = gen(42);
    expect(a).toHaveLength(3000);
    expect(JSON.stringify(gen(42))).toBe(JSON.stringify(a));
    expect(JSON.stringify(gen(43))).not.toBe(JSON.stringify(a));
    const usage = a.filter((r): r is UsageEvent => r.kind === 'usage');
    expect(usage.every((u) => u.ts >= '2025-11-01' && u.ts < '2026-01-01')).toBe(true);
    expect(usage.some((u) => u.cached_input_tokens > 0)).toBe(true);
    expect(usage.some((u) => u.parent_request_id !== null)).toBe(true);
    expect(a.some((r) => r.kind === 'decision')).toBe(true);
  });

  it('writes the ledger, the decision log and the rollups, which agree to the cent', async () => {
    const progress: number[] = [];
    const run = await runSynthetic(t.db, OPTS, (n) => progress.push(n));
    expect(run.records).toBe(3000);
    expect(run.usage + run.decisions).toBe(3000);
    expect(progress.at(-1)).toBe(3000);
    const ledger = await sumLedger(t.db, {});
    expect(ledger.calls).toBe(run.usage);
    expect(await countDecisions(t.db, {})).toBe(run.decisions);
    const rollup = (await t.db('usage_hourly').first(t.db.raw('sum(cost)::numeric(38, 12)::text as cost'), t.db.raw('sum(calls)::int8 as calls'))) as { cost: string; calls: number };
    expect(rollup.cost).toBe(ledger.cost);
    expect(Number(rollup.calls)).toBe(ledger.calls);
    // Written again, nothing is added (idempotent on request_id).
    const again = await runSynthetic(t.db, OPTS);
    expect(again.usage + again.decisions).toBe(0);
  });
});
