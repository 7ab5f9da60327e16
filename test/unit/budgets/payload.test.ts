import { describe, expect, it } from 'vitest';
import { buildPayload, formatAmount, percent, recipientsFor, type PayloadInput } from '../../../src/budgets/payload.js';

function input(over: Partial<PayloadInput> = {}, budget: Partial<PayloadInput['budget']> = {}): PayloadInput {
  return {
    event_id: 7,
    tier: 'warning',
    recipient: 'finance',
    budget: {
      id: 3, scope: 'use_case', scope_id: 'trade-promo-automation', unit: 'usd', currency: 'USD',
      limit: '2500.000000000000', period: 'month', period_start: '2025-03-01T00:00:00.000Z', ...budget,
    },
    key: '',
    spent: '2050.123456789012',
    ratio: '0.820049382716',
    bu: { id: 'marketing', name: 'Marketing' },
    use_case: { id: 'trade-promo-automation', name: 'Trade promotion automation' },
    request_id: 'req-42',
    at: '2025-03-18T10:11:12.000Z',
    ...over,
  };
}

describe('tier notification payload', () => {
  it('reads as one sentence a person understands, Slack-compatible', () => {
    const p = buildPayload(input());
    expect(p.text).toBe(':warning: Budget warning — use case trade-promo-automation (marketing) has used 82% of its 2,500 USD monthly budget (2,050.12 USD). Owner and finance notified.');
    expect(p.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: p.text } });
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  it('carries the structured fields beside the text', () => {
    expect(buildPayload(input()).tollgate).toEqual({
      event_id: 7,
      tier: 'warning',
      budget: {
        id: 3, scope: 'use_case', scope_id: 'trade-promo-automation', unit: 'usd', currency: 'USD', key: '',
        limit: '2500.000000000000', period: 'month', period_start: '2025-03-01T00:00:00.000Z',
      },
      spent: '2050.123456789012',
      ratio: '0.820049382716',
      recipient: 'finance',
      bu: { id: 'marketing', name: 'Marketing' },
      use_case: { id: 'trade-promo-automation', name: 'Trade promotion automation' },
      request_id: 'req-42',
      at: '2025-03-18T10:11:12.000Z',
    });
  });

  it('says what each tier means and who heard of it', () => {
    const notice = buildPayload(input({ tier: 'notice', recipient: 'owner', ratio: '0.5', spent: '1250' })).text;
    expect(notice).toBe(':information_source: Budget notice — use case trade-promo-automation (marketing) has used 50% of its 2,500 USD monthly budget (1,250.00 USD). Owner notified.');
    const soft = buildPayload(input({ tier: 'soft_cap', ratio: '1.0001', spent: '2500.25' })).text;
    expect(soft).toContain('has used 100% of its 2,500 USD monthly budget (2,500.25 USD). Calls are now served by a cheaper model. Owner and finance notified.');
    const hard = buildPayload(input({ tier: 'hard_cap', ratio: '1.1', spent: '2750' })).text;
    expect(hard).toMatch(/^:no_entry: Budget hard cap — .* has used 110% .* Calls are rejected until the budget is extended\. Owner and finance notified\.$/);
  });

  it('names the budget by its scope', () => {
    expect(buildPayload(input({ use_case: null }, { scope: 'bu', scope_id: 'marketing' })).text).toContain('— business unit marketing has used');
    expect(buildPayload(input({ use_case: null }, { scope: 'agent', scope_id: 'promo-planner', period: 'week' })).text)
      .toContain('— agent promo-planner (marketing) has used 82% of its 2,500 USD weekly budget');
    expect(buildPayload(input({ key: 'sess-9' }, { scope: 'session', period: 'day' })).text).toContain('— session sess-9 of trade-promo-automation (marketing)');
  });

  it('formats token budgets as whole tokens', () => {
    const text = buildPayload(input({ spent: '41000123', ratio: '0.82000246' }, { unit: 'tokens', currency: null, limit: '50000000.000000000000', period: 'quarter' })).text;
    expect(text).toContain('has used 82% of its 50,000,000 tokens quarterly budget (41,000,123 tokens).');
  });

  it('never rounds the percentage up past what was spent', () => {
    expect(percent('0.8299999')).toBe('82');
    expect(percent('0.8')).toBe('80');
    expect(percent('1.1')).toBe('110');
    expect(percent('0.5')).toBe('50');
  });

  it('formats money with grouping, cents on spend and none on whole limits', () => {
    const usd = { unit: 'usd', currency: 'USD' };
    expect(formatAmount('1234567.5', usd, false)).toBe('1,234,567.50 USD');
    expect(formatAmount('1000', usd, false)).toBe('1,000 USD');
    expect(formatAmount('999.999', usd, true)).toBe('1,000.00 USD');
    expect(formatAmount('0.004', usd, true)).toBe('0.00 USD');
  });

  it('sends the owner every tier and finance from the warning up', () => {
    expect(recipientsFor('notice')).toEqual(['owner']);
    expect(recipientsFor('warning')).toEqual(['owner', 'finance']);
    expect(recipientsFor('soft_cap')).toEqual(['owner', 'finance']);
    expect(recipientsFor('hard_cap')).toEqual(['owner', 'finance']);
  });
});
