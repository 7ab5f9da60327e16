import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPrices } from '../../src/db/prices.js';
import { costOf, createPriceBook } from '../../src/metering/pricing.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

describe('prices repository', () => {
  let t: TestDb;
  beforeEach(async () => {
    t = await createTestDb();
    await t.db('providers').insert({ id: 'anthropic', name: 'Anthropic', api_style: 'anthropic' });
    await t.db('models').insert({ id: 'claude-sonnet', provider_id: 'anthropic', family: 'sonnet', display_name: 'Claude Sonnet' });
    await t.db('prices').insert([
      { model_id: 'claude-sonnet', effective_from: '2025-06-01T00:00:00Z', input_per_mtok: '2.5', cached_input_per_mtok: '0.25', cache_write_per_mtok: '3.125', output_per_mtok: '12.5' },
      { model_id: 'claude-sonnet', effective_from: '2025-01-01T00:00:00Z', input_per_mtok: '3', cached_input_per_mtok: '0.3', cache_write_per_mtok: '3.75', output_per_mtok: '15' },
    ]);
  });
  afterEach(async () => {
    await t.drop();
  });

  it('loads every version as exact strings, oldest first, ready for the PriceBook', async () => {
    const rows = await loadPrices(t.db);
    expect(rows).toEqual([
      expect.objectContaining({ model_id: 'claude-sonnet', effective_from: new Date('2025-01-01T00:00:00Z'), input_per_mtok: '3.00000000', cached_input_per_mtok: '0.30000000', currency: 'USD' }),
      expect.objectContaining({ model_id: 'claude-sonnet', effective_from: new Date('2025-06-01T00:00:00Z'), output_per_mtok: '12.50000000' }),
    ]);
    const book = createPriceBook(rows);
    const usage = { input_tokens: 1_234_567, cached_input_tokens: 200_000, cache_write_tokens: 50_000, output_tokens: 98_765 };
    expect(costOf(usage, book.priceAt('claude-sonnet', new Date('2025-05-31T23:59:59Z'))!)).toBe('5.432676000000');
    expect(book.priceAt('claude-sonnet', new Date('2025-06-01T00:00:00Z'))!.id).toBe(rows[1]!.id);
  });

  it('refuses to delete or truncate prices: ledger rows keep pointing at the price they were charged', async () => {
    await expect(t.db('prices').where({ model_id: 'claude-sonnet' }).del()).rejects.toThrow(/prices are effective-dated and never deleted/);
    await expect(t.db.raw('truncate prices cascade')).rejects.toThrow(/never deleted/);
    expect(await loadPrices(t.db)).toHaveLength(2);
    // A new version is how a price changes.
    await t.db('prices').insert({ model_id: 'claude-sonnet', effective_from: '2026-01-01T00:00:00Z', input_per_mtok: '2', cached_input_per_mtok: '0.2', cache_write_per_mtok: '2.5', output_per_mtok: '10' });
    expect(await loadPrices(t.db)).toHaveLength(3);
  });
});
