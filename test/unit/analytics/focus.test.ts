import { describe, expect, it } from 'vitest';
import { focusRows, toCsv, FOCUS_COLUMNS, type FocusGroup } from '../../../src/analytics/focus.js';

const billing = { from: new Date('2026-02-01T00:00:00Z'), to: new Date('2026-03-01T00:00:00Z') };
const group = (over: Partial<FocusGroup> = {}): FocusGroup => ({
  day: new Date('2026-02-03T00:00:00Z'), bu_id: 'marketing', use_case_id: 'promo', agent_id: 'planner', provider: 'anthropic', provider_name: 'Anthropic',
  model_requested: 'claude-opus-4-1', model_served: 'claude-sonnet-4-5', price_id: 7, budget_tier: 'soft_cap', policy_revision: 'rev9', currency: 'USD',
  correction: false, calls: 3, input_tokens: 1_000_000, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 200_000,
  cost: '6.000000000000', price: { input: '3', cached_input: '0.3', cache_write: '3.75', output: '15' }, ...over,
});

describe('focusRows', () => {
  it('splits a group into one priced row per token kind (hand-computed)', () => {
    const rows = focusRows([group()], billing);
    expect(rows.map((r) => [r.SkuId, r.ConsumedQuantity, r.PricingQuantity, r.ListUnitPrice, r.BilledCost])).toEqual([
      ['claude-sonnet-4-5/input', '1000000', '1.000000', '3', '3.000000000000'],
      ['claude-sonnet-4-5/output', '200000', '0.200000', '15', '3.000000000000'],
    ]);
    expect(rows[0]).toMatchObject({
      ChargePeriodStart: '2026-02-03T00:00:00Z', ChargePeriodEnd: '2026-02-04T00:00:00Z', BillingPeriodStart: '2026-02-01T00:00:00Z', BillingPeriodEnd: '2026-03-01T00:00:00Z',
      ChargeCategory: 'Usage', ChargeClass: '', ServiceCategory: 'AI and Machine Learning', ServiceName: 'Anthropic API', ServiceProviderName: 'Anthropic',
      SkuPriceId: 'claude-sonnet-4-5/input@7', PricingUnit: '1M tokens', ConsumedUnit: 'Tokens', EffectiveCost: '3.000000000000', ListCost: '3.000000000000',
      x_ModelRequested: 'claude-opus-4-1', x_ModelServed: 'claude-sonnet-4-5', x_BudgetTier: 'soft_cap', x_PolicyRevision: 'rev9', x_Calls: '3',
    });
  });

  it("carries the ledger's per-call rounding on the last row so the file sums to the ledger", () => {
    const rows = focusRows([group({ cost: '6.000000000003' })], billing);
    expect(rows.map((r) => r.BilledCost)).toEqual(['3.000000000000', '3.000000000003']);
  });

  it('marks late rows as corrections and keeps unpriced calls on one row', () => {
    const [late] = focusRows([group({ correction: true })], billing);
    expect(late!.ChargeClass).toBe('Correction');
    const unpriced = focusRows([group({ price: null, price_id: null, cost: '0.5' })], billing);
    expect(unpriced).toHaveLength(1);
    expect(unpriced[0]).toMatchObject({ BilledCost: '0.500000000000', ListUnitPrice: '', SkuId: 'claude-sonnet-4-5', ConsumedQuantity: '1200000', x_TokenType: 'all' });
  });

  it('writes CSV with the FOCUS header and quotes the Tags JSON', () => {
    const csv = toCsv(focusRows([group()], billing));
    const [header, first] = csv.split('\n');
    expect(header).toBe(FOCUS_COLUMNS.join(','));
    expect(first).toContain('"{""bu"":""marketing"",""use_case"":""promo"",""agent"":""planner""}"');
  });
});
