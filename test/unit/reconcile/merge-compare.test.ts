import { describe, expect, it } from 'vitest';
import { formatDecimal } from '../../../src/metering/money.js';
import { passes, shadowSpend } from '../../../src/reconcile/compare.js';
import { allocate, mergeReport } from '../../../src/reconcile/merge.js';
import { catalogModelMapper } from '../../../src/reconcile/models.js';
import type { CoveredDay, LedgerDay, StoredReportRow } from '../../../src/db/reconcile.js';
import type { CostItem, UsageItem } from '../../../src/reconcile/types.js';

/** Merging a report's results into rows, and setting them against the ledger: pure, exact. */

const same = (x: string) => x;

describe('allocate', () => {
  it('splits by largest remainder: the parts add up to the total to the last decimal', () => {
    expect(allocate('0.000000000010', [1n, 1n, 1n]).map(formatDecimal)).toEqual(['0.000000000004', '0.000000000003', '0.000000000003']);
    const parts = allocate('100', [3n, 3n, 1n]);
    expect(parts.map(formatDecimal)).toEqual(['42.857142857143', '42.857142857143', '14.285714285714']);
    expect(parts.reduce((s, p) => s + p.units, 0n)).toBe(100n * 10n ** 12n);
  });
});

describe('catalog models', () => {
  it('maps a dated snapshot to its catalog model and leaves unknown models as reported', () => {
    const map = catalogModelMapper(['gpt-4.1', 'claude-haiku-4-5']);
    expect(['gpt-4.1-2025-04-14', 'claude-haiku-4-5-20251001', 'gpt-4.1', 'gpt-5-2025-08-07', 'gpt-4.1-mini-2025-04-14'].map(map))
      .toEqual(['gpt-4.1', 'claude-haiku-4-5', 'gpt-4.1', 'gpt-5-2025-08-07', 'gpt-4.1-mini-2025-04-14']);
    // An alias the catalog declares names its model, dated or not.
    const aliased = catalogModelMapper(['claude-opus-4-8'], new Map([['claude-opus-latest', 'claude-opus-4-8']]));
    expect(['claude-opus-latest', 'claude-opus-latest-20261101', 'claude-opus-4-8-20261101'].map(aliased)).toEqual(['claude-opus-4-8', 'claude-opus-4-8', 'claude-opus-4-8']);
  });
});

const usage = (u: Partial<UsageItem> & Pick<UsageItem, 'apiKeyId' | 'byType'>): UsageItem => ({
  day: '2026-06-02', scopeId: 'w1', model: 'claude-x', requests: 0,
  tokens: { input: u.byType.uncached_input_tokens ?? 0, cachedInput: u.byType.cache_read_input_tokens ?? 0, cacheWrite: 0, output: u.byType.output_tokens ?? 0 }, ...u,
});
const cost = (c: Partial<CostItem> & Pick<CostItem, 'usd'>): CostItem => ({ day: '2026-06-02', apiKeyId: null, scopeId: 'w1', model: 'claude-x', label: 'x', tokenType: null, ...c });

describe('mergeReport', () => {
  it('gives each key of a workspace its share of a cost line by its tokens of that kind', () => {
    const rows = mergeReport({
      costsByKey: false, catalogModel: same,
      usage: [usage({ apiKeyId: 'a', byType: { uncached_input_tokens: 1000, output_tokens: 10 } }), usage({ apiKeyId: 'b', byType: { uncached_input_tokens: 3000, output_tokens: 30 } })],
      cost: [cost({ tokenType: 'uncached_input_tokens', usd: '0.012' }), cost({ tokenType: 'output_tokens', usd: '0.6' }), cost({ model: null, label: 'Web Search Usage', usd: '0.07' })],
    });
    expect(rows.map((r) => [r.reportedModel, r.apiKeyId, r.cost, r.costSource, r.tokens.input])).toEqual([
      ['claude-x', 'a', '0.153000000000', 'allocated', 1000],
      ['claude-x', 'b', '0.459000000000', 'allocated', 3000],
      ['Web Search Usage', '', '0.070000000000', 'reported', 0],
    ]);
  });

  it('keeps a cost nobody used on no key, and tokens without a cost line as usage only', () => {
    const rows = mergeReport({
      costsByKey: false, catalogModel: same,
      usage: [usage({ apiKeyId: 'a', model: 'claude-y', byType: { output_tokens: 5 } })],
      cost: [cost({ tokenType: 'output_tokens', usd: '1' })],
    });
    expect(rows.map((r) => [r.reportedModel, r.apiKeyId, r.cost, r.costSource])).toEqual([['claude-x', '', '1.000000000000', 'reported'], ['claude-y', 'a', '0.000000000000', 'usage_only']]);
  });

  it('takes OpenAI costs per key as they are, one row per key, project and model', () => {
    const rows = mergeReport({
      costsByKey: true, catalogModel: catalogModelMapper(['gpt-4.1']),
      usage: [],
      cost: [cost({ apiKeyId: 'k', scopeId: 'p', model: 'gpt-4.1-2025-04-14', usd: '0.1' }), cost({ apiKeyId: 'k', scopeId: 'p', model: 'gpt-4.1-2025-04-14', usd: '0.06468000000000001' })],
    });
    expect(rows).toEqual([expect.objectContaining({ model: 'gpt-4.1', reportedModel: 'gpt-4.1-2025-04-14', apiKeyId: 'k', scopeId: 'p', cost: '0.164680000000', costSource: 'reported' })]);
  });
});

const stored = (r: Partial<StoredReportRow> & Pick<StoredReportRow, 'apiKeyId' | 'cost'>): StoredReportRow => ({
  provider: 'openai', day: '2026-06-02', model: 'gpt-4.1', reportedModel: 'gpt-4.1-2025-04-14', scopeId: 'p', costSource: 'reported',
  tokens: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 }, requests: 0, ...r,
});
const ledger = (l: Partial<LedgerDay> & Pick<LedgerDay, 'cost'>): LedgerDay => ({ provider: 'openai', day: '2026-06-02', model: 'gpt-4.1', calls: 1, input: 0, cachedInput: 0, cacheWrite: 0, output: 0, ...l });
const covered: CoveredDay[] = [{ provider: 'openai', day: '2026-06-02', runId: 1, fetchedAt: new Date() }];

describe('shadowSpend', () => {
  const report = [stored({ apiKeyId: 'k_tollgate', cost: '10' }), stored({ apiKeyId: 'k_other', scopeId: 'q', cost: '4' })];

  it("splits the difference into bypass (other keys) and metering gap (tollgate's key); the ledger takes its key's project", () => {
    const s = shadowSpend({ report, ledger: [ledger({ cost: '12.5' })], covered, tollgateKeys: { openai: 'k_tollgate' }, groupBy: ['KEY', 'SCOPE'] });
    expect(s.rows.map((r) => [r.key.apiKeyId, r.key.scopeId, r.tollgateKey, r.reported, r.metered, r.difference])).toEqual([
      ['k_other', 'q', false, '4.000000000000', '0.000000000000', '4.000000000000'],
      ['k_tollgate', 'p', true, '10.000000000000', '12.500000000000', '-2.500000000000'],
    ]);
    expect(s.totals).toMatchObject({ difference: '1.500000000000', bypass: '4.000000000000', meteringGap: '-2.500000000000' });
  });

  it("without tollgate's key configured, sets the ledger against every key and calls the difference neither", () => {
    const s = shadowSpend({ report, ledger: [ledger({ cost: '12.5' })], covered, tollgateKeys: {}, groupBy: ['KEY'] });
    expect(s.rows).toEqual([expect.objectContaining({ key: expect.objectContaining({ apiKeyId: null }), tollgateKey: null, difference: '1.500000000000', bypass: '0.000000000000', meteringGap: '0.000000000000' })]);
  });

  it('compares only the days a run covered: the ledger of another day is left out', () => {
    const s = shadowSpend({ report, ledger: [ledger({ cost: '10' }), ledger({ day: '2026-06-09', cost: '99' }), ledger({ provider: 'azure', cost: '5' })], covered, tollgateKeys: { openai: 'k_tollgate' }, groupBy: ['DAY'] });
    expect(s.rows.map((r) => [r.key.day, r.metered, r.difference])).toEqual([['2026-06-02', '10.000000000000', '4.000000000000']]);
  });

  it('notifies from the threshold on, either way; a threshold of 0 never', () => {
    expect([passes('100.000000000000', '100'), passes('-150', '100'), passes('99.99', '100'), passes('5', '0')]).toEqual([true, true, false, false]);
  });
});
