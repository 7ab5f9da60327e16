import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';
import { usageEvent } from './fixtures/events.js';

/**
 * downgrades: the soft cap's cheaper models and the money they saved, priced at the requested model's price
 * in force at each call's time; and Budget.tierLines, where a burn-down chart draws its tier lines.
 */

let h: AnalyticsHarness;

const downgraded = (i: number, o: Parameters<typeof usageEvent>[1]) => usageEvent(i, { cached_input_tokens: 0, cache_write_tokens: 0, ...o }, 'dg');
const SONNET = { bu_id: 'marketing', use_case_id: 'trade-promo-automation', agent_id: 'promo-planner', model_requested: 'claude-sonnet-4-5', model_served: 'claude-haiku-4-5' };
const GPT = { bu_id: 'supply-chain', use_case_id: 'demand-forecasting', agent_id: 'demand-forecaster', model_requested: 'gpt-4.1', model_served: 'gpt-4.1-mini' };

beforeAll(async () => {
  h = await startAnalytics();
  // Sonnet's price doubles on the 15th: call 2 is priced at the new one, call 1 at the seeded one (3 / 15 per M).
  await h.db('prices').insert({ model_id: 'claude-sonnet-4-5', effective_from: '2026-11-15T00:00:00Z', input_per_mtok: '6', cached_input_per_mtok: '0.6', cache_write_per_mtok: '7.5', output_per_mtok: '30', currency: 'USD' });
  await h.write([
    // Billed at Haiku (1 / 5 per M): 0.8 and 0.7.
    downgraded(1, { ...SONNET, ts: '2026-11-03T10:00:00Z', input_tokens: 600_000, output_tokens: 40_000, cost: '0.800000000000' }),
    downgraded(2, { ...SONNET, ts: '2026-11-20T10:00:00Z', input_tokens: 400_000, output_tokens: 60_000, cost: '0.700000000000' }),
    // Billed at gpt-4.1-mini (0.40 / 0.10 cached / 1.60 per M): 0.58.
    downgraded(3, { ...GPT, ts: '2026-11-05T10:00:00Z', input_tokens: 1_000_000, cached_input_tokens: 200_000, output_tokens: 100_000, cost: '0.580000000000' }),
    // A requested model without a price: counted, left out of the money.
    downgraded(4, { ...SONNET, model_requested: 'claude-unpriced', ts: '2026-11-06T10:00:00Z', cost: '0.100000000000' }),
    // Not downgraded, or another month: not counted.
    downgraded(5, { ...SONNET, model_served: 'claude-sonnet-4-5', ts: '2026-11-07T10:00:00Z', cost: '9.000000000000' }),
    downgraded(6, { ...SONNET, ts: '2026-10-31T23:59:59Z', cost: '9.000000000000' }),
  ]);
});
afterAll(async () => h?.close());

type D = {
  downgrades: {
    calls: string; billed: string; atRequestedPrice: string; saved: string; unpricedCalls: string;
    rows: { bu: string; useCase: string; modelRequested: string; modelServed: string; calls: string; billed: string; atRequestedPrice: string | null; saved: string | null }[];
  };
};
const Q = (args: string) => `{ downgrades(${args}) { calls billed atRequestedPrice saved unpricedCalls rows { bu useCase modelRequested modelServed calls billed atRequestedPrice saved } } }`;

describe('downgrades', () => {
  it('prices each downgraded call at the requested model in force at its time, and sums what that saved', async () => {
    const r = await h.gql<D>(await h.token('finance'), Q('period: "2026-11"'));
    expect(r.body.errors).toBeUndefined();
    const d = r.body.data!.downgrades;
    // Sonnet: 3 × 0.6 + 15 × 0.04 = 2.4 before the 15th, 6 × 0.4 + 30 × 0.06 = 4.2 after; GPT-4.1: 2 + 0.5 × 0.2 + 8 × 0.1 = 2.9.
    expect(d.rows).toEqual([
      { bu: 'marketing', useCase: 'trade-promo-automation', modelRequested: 'claude-sonnet-4-5', modelServed: 'claude-haiku-4-5', calls: '2', billed: '1.500000000000', atRequestedPrice: '6.600000000000', saved: '5.100000000000' },
      { bu: 'supply-chain', useCase: 'demand-forecasting', modelRequested: 'gpt-4.1', modelServed: 'gpt-4.1-mini', calls: '1', billed: '0.580000000000', atRequestedPrice: '2.900000000000', saved: '2.320000000000' },
      { bu: 'marketing', useCase: 'trade-promo-automation', modelRequested: 'claude-unpriced', modelServed: 'claude-haiku-4-5', calls: '1', billed: '0.100000000000', atRequestedPrice: null, saved: null },
    ]);
    expect(d).toMatchObject({ calls: '4', billed: '2.080000000000', atRequestedPrice: '9.500000000000', saved: '7.420000000000', unpricedCalls: '1' });
  });

  it("shows a BU owner its BU's downgrades only, and refuses another BU and the council", async () => {
    const owner = await h.token('bu-owner', 'marketing');
    const mine = (await h.gql<D>(owner, Q('period: "2026-11"'))).body.data!.downgrades;
    expect(new Set(mine.rows.map((r) => r.bu))).toEqual(new Set(['marketing']));
    expect(mine.saved).toBe('5.100000000000');
    expect((await h.gql(owner, Q('period: "2026-11", bu: "supply-chain"'))).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await h.gql(await h.token('council'), Q('period: "2026-11"'))).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses a bad period with BAD_USER_INPUT', async () => {
    const finance = await h.token('finance');
    expect((await h.gql(finance, Q('period: "2026-13"'))).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await h.gql(finance, Q('from: "2026-11-01T00:30:00Z", to: "2026-12-01T00:00:00Z"'))).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('Budget.tierLines', () => {
  it("gives the policy's thresholds for money and token budgets, none for session caps", async () => {
    type B = { budgets: { scope: string; unit: string; tierLines: { tier: string; ratio: string }[] }[] };
    const { budgets } = (await h.gql<B>(await h.token('finance'), '{ budgets { scope unit tierLines { tier ratio } } }')).body.data!;
    const lines = [{ tier: 'NOTICE', ratio: '0.500000' }, { tier: 'WARNING', ratio: '0.800000' }, { tier: 'SOFT_CAP', ratio: '1.000000' }, { tier: 'HARD_CAP', ratio: '1.100000' }];
    expect(budgets.filter((b) => b.scope === 'USE_CASE').length).toBeGreaterThan(1);
    for (const b of budgets.filter((x) => x.scope !== 'SESSION')) expect(b.tierLines).toEqual(lines);
    for (const b of budgets.filter((x) => x.scope === 'SESSION')) expect(b.tierLines).toEqual([]);
  });
});
