import { describe, expect, it } from 'vitest';
import { costOf, createPriceBook, type PriceRow } from '../../../src/metering/pricing.js';

function price(id: number, model_id: string, effective_from: string, input = '3'): PriceRow {
  return {
    id,
    model_id,
    effective_from,
    input_per_mtok: input,
    cached_input_per_mtok: '0.30',
    cache_write_per_mtok: '3.75',
    output_per_mtok: '15',
    currency: 'USD',
  };
}

describe('PriceBook', () => {
  // Given out of order on purpose: the book sorts them.
  const book = createPriceBook([
    price(3, 'sonnet', '2025-03-01T00:00:00Z', '2.5'),
    price(1, 'sonnet', '2025-01-01T00:00:00Z', '3'),
    price(2, 'sonnet', '2025-02-01T00:00:00Z', '2.75'),
    price(9, 'haiku', '2025-02-15T00:00:00Z', '0.8'),
  ]);

  it('answers the latest version in force, boundaries included', () => {
    expect(book.priceAt('sonnet', new Date('2024-12-31T23:59:59.999Z'))).toBeNull();
    expect(book.priceAt('sonnet', new Date('2025-01-01T00:00:00.000Z'))?.id).toBe(1);
    expect(book.priceAt('sonnet', new Date('2025-01-31T23:59:59.999Z'))?.id).toBe(1);
    expect(book.priceAt('sonnet', new Date('2025-02-01T00:00:00.000Z'))?.id).toBe(2);
    expect(book.priceAt('sonnet', new Date('2025-02-28T12:00:00.000Z'))?.id).toBe(2);
    expect(book.priceAt('sonnet', new Date('2025-03-01T00:00:00.000Z'))?.id).toBe(3);
    expect(book.priceAt('sonnet', new Date('2030-01-01T00:00:00.000Z'))?.id).toBe(3);
  });

  it('keeps models apart and knows no price for an unknown model', () => {
    expect(book.priceAt('haiku', new Date('2025-02-14T23:59:59Z'))).toBeNull();
    expect(book.priceAt('haiku', new Date('2025-02-15T00:00:00Z'))?.id).toBe(9);
    expect(book.priceAt('opus', new Date('2025-06-01T00:00:00Z'))).toBeNull();
    expect(book.size).toBe(4);
  });

  it('accepts Date effective_from as Postgres returns it', () => {
    const dated = createPriceBook([{ ...price(5, 'gpt', '2025-01-01T00:00:00Z'), effective_from: new Date('2025-05-01T00:00:00Z') }]);
    expect(dated.priceAt('gpt', new Date('2025-04-30T23:59:59Z'))).toBeNull();
    expect(dated.priceAt('gpt', new Date('2025-05-01T00:00:00Z'))?.id).toBe(5);
  });
});

describe('costOf', () => {
  it('sums the four token kinds at their own prices, exactly', () => {
    const usage = { input_tokens: 1_234_567, cached_input_tokens: 200_000, cache_write_tokens: 50_000, output_tokens: 98_765 };
    // 3.703701 + 0.06 + 0.1875 + 1.481475
    expect(costOf(usage, price(1, 'sonnet', '2025-01-01T00:00:00Z'))).toBe('5.432676000000');
  });

  it('uses the numeric(20,8) strings Postgres returns', () => {
    const row: PriceRow = {
      ...price(1, 'mini', '2025-01-01T00:00:00Z'),
      input_per_mtok: '0.15000000',
      cached_input_per_mtok: '0.07500000',
      cache_write_per_mtok: '0.00000000',
      output_per_mtok: '0.60000000',
    };
    const usage = { input_tokens: 7, cached_input_tokens: 3, cache_write_tokens: 0, output_tokens: 11 };
    // 7 × 0.15 + 3 × 0.075 + 11 × 0.6 = 1.05 + 0.225 + 6.6 = 7.875 per million
    expect(costOf(usage, row)).toBe('0.000007875000');
  });

  it('rounds a sub-picodollar remainder half to even, once, on the total', () => {
    const row = { ...price(1, 'm', '2025-01-01T00:00:00Z'), input_per_mtok: '0.00000150', output_per_mtok: '0.00000100' };
    const usage = { input_tokens: 1, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 1 };
    // 1.5e-12 + 1.0e-12 = 2.5e-12 → 2e-12 (rounding each term first would give 2e-12 + 1e-12)
    expect(costOf(usage, row)).toBe('0.000000000002');
  });

  it('costs nothing for no tokens', () => {
    const usage = { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 };
    expect(costOf(usage, price(1, 'sonnet', '2025-01-01T00:00:00Z'))).toBe('0.000000000000');
  });
});
