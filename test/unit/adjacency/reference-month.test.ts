import { describe, expect, it } from 'vitest';
import { analyzeAdjacency, mulberry32, type AdjacencyRows, type DailySpendRow, type ToolUsageRow } from '../../../src/adjacency/index.js';

/**
 * Issue 5's "Done when": June 2026 for the demo catalog. Marketing's trade-promo-automation spikes on four
 * irregular days; supply chain's demand-forecasting spikes three days after each; both call inventory-lookup.
 * Everything else is noise on a shared weekday rhythm (quieter weekends), seeded.
 */
const period = { from: '2026-06-01', to: '2026-07-01' };
const USE_CASES = [
  { id: 'trade-promo-automation', bu: 'marketing', class: 'demand-shaping', base: 120 },
  { id: 'digital-marketing', bu: 'marketing', class: 'demand-shaping', base: 60 },
  { id: 'experience-management', bu: 'marketing', class: 'customer-experience', base: 30 },
  { id: 'demand-forecasting', bu: 'supply-chain', class: 'demand-planning', base: 100 },
  { id: 'inventory-management', bu: 'supply-chain', class: 'inventory-planning', base: 50 },
  { id: 'underwriting-assist', bu: 'insurance', class: 'underwriting', base: 40 },
];
const couplings = [
  { from: 'demand-shaping', to: 'demand-planning' },
  { from: 'inventory-planning', to: 'demand-shaping' },
];
const PROMO_STARTS = [2, 9, 17, 22];
const LAG = 3;

function day(t: number): string {
  return new Date(Date.UTC(2026, 5, 1 + t)).toISOString().slice(0, 10);
}

function month(seed: number, spikes: Record<string, number[]>, tools: ToolUsageRow[]): AdjacencyRows {
  const rng = mulberry32(seed);
  const dailySpend: DailySpendRow[] = [];
  for (const u of USE_CASES) {
    for (let t = 0; t < 30; t++) {
      const weekend = [0, 6].includes(new Date(`${day(t)}T00:00:00Z`).getUTCDay());
      const spike = (spikes[u.id] ?? []).some((s) => t === s || t === s + 1) ? 5 * u.base : 0;
      dailySpend.push({ use_case: u.id, day: day(t), cost: u.base * (weekend ? 0.4 : 1) * (0.8 + 0.4 * rng()) + spike });
    }
  }
  const spend = (id: string) => dailySpend.filter((d) => d.use_case === id).reduce((s, d) => s + d.cost, 0);
  return {
    period, couplings, tools, dailySpend,
    useCases: USE_CASES.map((u) => ({ id: u.id, bu: u.bu, class: u.class, spend: spend(u.id) })),
    budgets: USE_CASES.map((u) => ({ use_case: u.id, limit: u.base * 60 })),
  };
}

const OWN_TOOLS: ToolUsageRow[] = [
  { use_case: 'trade-promo-automation', tool: 'promo-calendar', calls: 500 },
  { use_case: 'demand-forecasting', tool: 'sales-history', calls: 600 },
  { use_case: 'digital-marketing', tool: 'ad-platform', calls: 200 },
  { use_case: 'inventory-management', tool: 'warehouse-api', calls: 300 },
  { use_case: 'underwriting-assist', tool: 'rating-engine', calls: 100 },
];
const SHARED_TOOL: ToolUsageRow[] = [
  { use_case: 'trade-promo-automation', tool: 'inventory-lookup', calls: 300 },
  { use_case: 'demand-forecasting', tool: 'inventory-lookup', calls: 400 },
];

describe('the reference month (issue 5, Done when)', () => {
  const shock = month(1, { 'trade-promo-automation': PROMO_STARTS, 'demand-forecasting': PROMO_STARTS.map((s) => s + LAG) }, [...OWN_TOOLS, ...SHARED_TOOL]);

  it('raises exactly one alert: trade-promo leads demand-forecasting by 3 days and both call inventory-lookup', () => {
    const { alerts } = analyzeAdjacency(shock);
    expect(alerts).toHaveLength(1);
    const [alert] = alerts;
    expect(alert!.pair).toEqual(['demand-forecasting', 'trade-promo-automation']);
    expect(alert!.signals).toEqual(['classCoupling', 'sharedTools', 'leadLag']);
    expect(alert!.evidence.leadLag).toMatchObject({ leader: 'trade-promo-automation', follower: 'demand-forecasting', lagDays: LAG, significant: true });
    expect(alert!.evidence.leadLag!.r).toBeGreaterThan(0.8);
    expect(alert!.evidence.leadLag!.p).toBeLessThanOrEqual(0.01);
    expect(alert!.evidence.sharedTools).toEqual({ tools: ['inventory-lookup'], overlap: 300 / (800 + 1000 - 300) });
    expect(alert!.evidence.classCoupling).toEqual({ classes: ['demand-planning', 'demand-shaping'], weight: 1 });
    expect(alert!.sides.map((s) => [s.useCase, s.bu])).toEqual([['demand-forecasting', 'supply-chain'], ['trade-promo-automation', 'marketing']]);
    expect(alert!.sides.every((s) => s.heavy.includes('percentile') && s.spend >= alert!.spendThreshold)).toBe(true);
    expect(alert!.key).toBe('adjacency:2026-06-01/2026-07-01:demand-forecasting|trade-promo-automation:classCoupling+leadLag+sharedTools');
  });

  it('gives the same alert, key included, whatever the order of the rows', () => {
    const reversed: AdjacencyRows = { ...shock, useCases: [...shock.useCases].reverse(), dailySpend: [...shock.dailySpend!].reverse(), tools: [...shock.tools!].reverse() };
    expect(analyzeAdjacency(reversed).alerts).toEqual(analyzeAdjacency(shock).alerts);
  });

  const controls = Array.from({ length: 20 }, (_, i) => analyzeAdjacency(month(101 + i, {}, OWN_TOOLS)));

  it.each(controls.map((c, i) => [101 + i, c] as const))('raises none in a control month of unrelated, random spend (seed %i)', (_seed, control) => {
    expect(control.alerts).toEqual([]);
  });

  it('lets noise fire lead-lag on at most one of the 220 control pairs', () => {
    expect(controls.flatMap((c) => c.edges.filter((e) => e.fired.includes('leadLag'))).length).toBeLessThanOrEqual(1);
  });
});
