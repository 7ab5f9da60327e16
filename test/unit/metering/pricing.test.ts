import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { costOf, createPriceBook, type PriceRow } from '../../../src/metering/pricing.js';
import { costPerMillion, sum, toMoney } from '../../../src/metering/money.js';

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

describe('costOf against the decimal operations it folds together', () => {
  // costOf parses a price row once and sums integers at one scale; the definition it must equal is the sum of
  // tokens × price / 10^6 per kind (money.ts), rounded once, half-even, to the ledger's 12 decimals.
  const decimal = fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 99_999_999 }))
    .map(([whole, places, frac]) => (places === 0 ? String(whole) : `${whole}.${String(frac).padStart(8, '0').slice(0, places)}`));
  const tokens = fc.integer({ min: 0, max: 2_000_000_000 });

  it('gives the same money string for any prices (0 to 8 decimals) and token counts', () => {
    fc.assert(fc.property(decimal, decimal, decimal, fc.option(decimal), decimal, tokens, tokens, tokens, tokens, tokens,
      (input, cached, write, write1h, output, i, c, w, h, o) => {
        const p = { input_per_mtok: input, cached_input_per_mtok: cached, cache_write_per_mtok: write, cache_write_1h_per_mtok: write1h, output_per_mtok: output, currency: 'USD' };
        const hour = Math.min(h, w);
        const usage = { input_tokens: i, cached_input_tokens: c, cache_write_tokens: w, cache_write_1h_tokens: hour, output_tokens: o };
        const expected = toMoney(sum([
          costPerMillion(i, input), costPerMillion(c, cached), costPerMillion(w - hour, write),
          costPerMillion(hour, write1h ?? write), costPerMillion(o, output),
        ]));
        expect(costOf(usage, p)).toBe(expected);
        // Asked again (the parsed row is kept), the same.
        expect(costOf(usage, p)).toBe(expected);
      }), { numRuns: 2000 });
  });

  it('refuses a token count that is not a safe integer, as before', () => {
    const p = price(1, 'm', '2025-01-01T00:00:00Z');
    expect(() => costOf({ input_tokens: 2 ** 53, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 }, p)).toThrow(RangeError);
    expect(() => costOf({ input_tokens: 1.5, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 }, p)).toThrow(RangeError);
  });
});
