import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { perMillion, perTokenToPerMillion, shiftDecimal } from '../../../src/catalog/prices/decimal-text.js';
import { diffPrices, percentMove } from '../../../src/catalog/prices/diff.js';
import { parseLiteLlm, type CatalogModels } from '../../../src/catalog/prices/litellm.js';
import { parseTollgateCsv, parseTollgateJson } from '../../../src/catalog/prices/tollgate-format.js';
import type { PriceInput } from '../../../src/catalog/prices/types.js';
import type { PriceRow } from '../../../src/metering/pricing.js';

const EXCERPT = fs.readFileSync(new URL('../../fixtures/litellm-excerpt.json', import.meta.url), 'utf8');
const CATALOG: CatalogModels = {
  models: ['claude-haiku-4-5', 'claude-sonnet-4-5', 'claude-opus-5', 'claude-sonnet-5-5'].map((id): CatalogModels['models'][number] => ({ id, provider_id: 'anthropic' }))
    .concat(['gpt-4.1', 'gpt-4o-mini', 'gpt-5.4', 'text-embedding-3-small'].map((id) => ({ id, provider_id: 'openai' })))
    .concat([{ id: 'gemini/gemini-2.5-flash', provider_id: 'gemini' }])
    .concat([{ id: 'vertex/claude-haiku-4-5', provider_id: 'vertex', vendor_model_id: 'claude-haiku-4-5@20251001' }]),
  aliases: [
    { provider_id: 'vertex', alias: 'claude-haiku-4-5@20251001', model_id: 'vertex/claude-haiku-4-5' },
    { provider_id: 'anthropic', alias: 'claude-haiku-4-5-20251001', model_id: 'claude-haiku-4-5' },
    { provider_id: 'anthropic', alias: 'claude-sonnet-4-5-20250929', model_id: 'claude-sonnet-4-5' },
    { provider_id: 'openai', alias: 'gpt-4o-mini-2024-07-18', model_id: 'gpt-4o-mini' },
  ],
};

describe('prices per token as text become exact prices per million tokens', () => {
  it.each([
    ['3e-06', '3'], ['1.5e-07', '0.15'], ['0.000015', '15'], ['1.875e-05', '18.75'], ['7.5e-08', '0.075'], ['2e-08', '0.02'],
    ['0.0', '0'], ['0', '0'], ['1.63e-07', '0.163'], ['5.51e-07', '0.551'], ['2.1875e-06', '2.1875'], ['0.00000060', '0.6'],
    ['5.46875e-07', '0.546875'], ['1E-5', '10'], ['3.0e-6', '3'], ['0.00003', '30'], ['12', '12000000'],
  ])('%s per token is %s per million', (text, expected) => {
    expect(perTokenToPerMillion(text)).toBe(expected);
  });

  it('shifts without a float: 0.1 + 0.2 style digits survive', () => {
    expect(shiftDecimal('3.0000000000000004e-07', 6)).toBe('0.30000000000000004');
  });

  it('refuses a price the price book cannot hold exactly, rather than rounding it', () => {
    expect(() => perTokenToPerMillion('1e-15')).toThrow(/more than 8 decimals/);
    expect(() => perTokenToPerMillion('3.0000000000000004e-07')).toThrow(/more than 8 decimals/);
    expect(() => perTokenToPerMillion('-1e-06')).toThrow(/negative/);
    expect(() => perTokenToPerMillion('NaN')).toThrow(/not a number/);
    expect(() => perMillion('1e20')).toThrow(/too large/);
  });
});

describe('LiteLLM price map', () => {
  const parsed = parseLiteLlm(EXCERPT, CATALOG, 'LiteLLM price map test');
  const row = (model: string, tier = 'standard') => parsed.prices.find((p) => p.model_id === model && p.service_tier === tier);

  it('prices every catalog model it covers exactly as its text says, 1-hour cache writes included', () => {
    expect(row('claude-haiku-4-5')).toEqual({
      model_id: 'claude-haiku-4-5', service_tier: 'standard', input_per_mtok: '1', cached_input_per_mtok: '0.1', cache_write_per_mtok: '1.25',
      cache_write_1h_per_mtok: '2', output_per_mtok: '5', currency: 'USD', source: 'LiteLLM price map test',
    });
    expect(row('gpt-4o-mini')).toMatchObject({ input_per_mtok: '0.15', cached_input_per_mtok: '0.075', cache_write_per_mtok: '0', cache_write_1h_per_mtok: null, output_per_mtok: '0.6' });
    expect(row('text-embedding-3-small')).toMatchObject({ input_per_mtok: '0.02', cached_input_per_mtok: '0.02', output_per_mtok: '0' });
  });

  it('reads a dated snapshot through its alias, and a provider-prefixed key', () => {
    expect(row('claude-sonnet-4-5')).toMatchObject({ input_per_mtok: '3', cache_write_per_mtok: '3.75', cache_write_1h_per_mtok: '6', output_per_mtok: '15' });
    expect(row('claude-opus-5')).toMatchObject({ input_per_mtok: '5', cached_input_per_mtok: '0.5', output_per_mtok: '25' });
  });

  it("reads a vendor's entry under the vendor's catalog model (LiteLLM's own key)", () => {
    expect(row('gemini/gemini-2.5-flash')).toMatchObject({ input_per_mtok: '0.3', output_per_mtok: '2.5' });
  });

  it("reads a cloud vendor's entry under LiteLLM's routing prefix, through the vendor's model id", () => {
    expect(row('vertex/claude-haiku-4-5')).toMatchObject({ input_per_mtok: '1', output_per_mtok: '5' });
  });

  it("takes Bedrock's own model id as the exact entry: cross-region profiles priced apart do not conflict with it", () => {
    const id = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
    const entry = (input: number) => ({ litellm_provider: 'bedrock_converse', mode: 'chat', input_cost_per_token: input, output_cost_per_token: 1.5e-5 });
    const map = JSON.stringify({ [`us.${id}`]: entry(3.3e-6), [`global.${id}`]: entry(3e-6), [id]: entry(3e-6), [`bedrock/us-west-2/${id}`]: entry(3e-6) });
    const catalog = {
      models: [{ id: 'bedrock/claude-sonnet-4-5', provider_id: 'bedrock', vendor_model_id: id }],
      aliases: [id, `us.${id}`, `global.${id}`].map((alias) => ({ provider_id: 'bedrock', alias, model_id: 'bedrock/claude-sonnet-4-5' })),
    };
    const r = parseLiteLlm(map, catalog, 's');
    expect(r.rejected).toEqual([]);
    expect(r.prices).toMatchObject([{ model_id: 'bedrock/claude-sonnet-4-5', service_tier: 'standard', input_per_mtok: '3', output_per_mtok: '15' }]);
    // A key naming a region is no model id tollgate sends.
    expect(r.notInCatalog).toEqual([`bedrock/us-west-2/${id}`]);
  });

  it('makes one row per service tier the entry prices: flex, priority, batch', () => {
    expect(parsed.prices.filter((p) => p.model_id === 'gpt-5.4').map((p) => [p.service_tier, p.input_per_mtok, p.cached_input_per_mtok, p.output_per_mtok]))
      .toEqual([['standard', '2.5', '0.25', '15'], ['flex', '1.25', '0.125', '7.5'], ['priority', '5', '0.5', '30']]);
    expect(row('gpt-4.1', 'batch')).toMatchObject({ input_per_mtok: '1', cached_input_per_mtok: '0.5', output_per_mtok: '4' });
  });

  it('reports the entries of served providers and modes that are not in the catalog, and skips the rest', () => {
    expect(parsed.notInCatalog.sort()).toEqual([
      'anthropic/claude-3-haiku-20240307', 'anthropic/claude-instant-1.2', 'anthropic/claude-opus-4-1', 'anthropic/claude-opus-4-8', 'anthropic/claude-sonnet-5',
      'azure/gpt-4o', 'bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0',
      'openai/chatgpt-4o-latest', 'openai/ft:gpt-4o-mini-2024-07-18', 'openai/gpt-4.1-mini', 'openai/gpt-4o', 'openai/o3-pro', 'openai/text-embedding-3-large',
    ]);
    // sample_spec, completion, image, audio, moderation, and the providers tollgate does not serve
    expect(parsed.skipped).toBe(7);
    expect(parsed.rejected).toEqual([]);
    expect(parsed.prices.some((p) => p.model_id === 'claude-sonnet-5-5')).toBe(false);
  });

  it('refuses aliases of one model that disagree, when no entry names the model itself', () => {
    const map = JSON.stringify({
      'claude-haiku-4-5-20251001': { litellm_provider: 'anthropic', mode: 'chat', input_cost_per_token: 1e-6, output_cost_per_token: 5e-6 },
      'claude-haiku-4-5-latest': { litellm_provider: 'anthropic', mode: 'chat', input_cost_per_token: 2e-6, output_cost_per_token: 5e-6 },
    });
    const aliases = [...CATALOG.aliases, { provider_id: 'anthropic', alias: 'claude-haiku-4-5-latest', model_id: 'claude-haiku-4-5' }];
    const r = parseLiteLlm(map, { ...CATALOG, aliases }, 's');
    expect(r.prices).toEqual([]);
    expect(r.rejected[0]?.reason).toMatch(/an alias of claude-haiku-4-5/);
  });
});

describe("tollgate's own price files", () => {
  it('reads JSON and CSV with the same fields as the seed, aliases included', () => {
    const json = parseTollgateJson(JSON.stringify({ prices: [{ model_id: 'claude-haiku-4-5-20251001', input_per_mtok: '1.10', cached_input_per_mtok: 0.11, cache_write_per_mtok: '1.375', cache_write_1h_per_mtok: '2.2', output_per_mtok: '5.5', effective_from: '2027-01-01T00:00:00Z' }] }), CATALOG, 'f');
    expect(json.prices).toEqual([{
      model_id: 'claude-haiku-4-5', service_tier: 'standard', input_per_mtok: '1.1', cached_input_per_mtok: '0.11', cache_write_per_mtok: '1.375',
      cache_write_1h_per_mtok: '2.2', output_per_mtok: '5.5', currency: 'USD', source: 'f', effective_from: '2027-01-01T00:00:00.000Z',
    }]);
    const csv = parseTollgateCsv('model_id,service_tier,input_per_mtok,cached_input_per_mtok,cache_write_per_mtok,output_per_mtok,source\ngpt-5.4,flex,1.25,0.125,0,7.50,"page, checked"\nnope,standard,1,1,0,1,x\ngpt-4.1,standard,abc,1,0,1,x\n', CATALOG, 'f');
    expect(csv.prices).toEqual([expect.objectContaining({ model_id: 'gpt-5.4', service_tier: 'flex', output_per_mtok: '7.5', cache_write_1h_per_mtok: null, source: 'page, checked' })]);
    expect(csv.notInCatalog).toEqual(['nope']);
    expect(csv.rejected).toEqual([{ key: 'gpt-4.1', reason: 'not a number: "abc"' }]);
  });
});

describe('the diff of an import against the price book', () => {
  const price = (over: Partial<PriceInput> = {}): PriceInput => ({
    model_id: 'm', service_tier: 'standard', input_per_mtok: '1', cached_input_per_mtok: '0.1', cache_write_per_mtok: '1.25',
    cache_write_1h_per_mtok: '2', output_per_mtok: '5', currency: 'USD', source: null, ...over,
  });
  const version = (id: number, from: string, over: Partial<PriceRow> = {}): PriceRow => ({ id, effective_from: new Date(from), ...price(), ...over } as PriceRow);
  const t = new Date('2026-12-01T00:00:00Z');

  it('says new, unchanged, and changed with each kind that moved and by how much', () => {
    const history = (m: string) => (m === 'm' ? [version(1, '2026-01-01T00:00:00Z')] : []);
    const [fresh, same, moved] = diffPrices([price({ model_id: 'n' }), price(), price({ input_per_mtok: '1.2', output_per_mtok: '4' })], history, t);
    expect(fresh!.status).toBe('new');
    expect(same!.status).toBe('unchanged');
    expect(moved).toMatchObject({ status: 'changed', moves: [
      { kind: 'input_per_mtok', from: '1', to: '1.2', percent: '+20.0' },
      { kind: 'output_per_mtok', from: '5', to: '4', percent: '-20.0' },
    ] });
  });

  it('compares decimals, not text: 1.00000000 in the book is 1 in the file', () => {
    const history = () => [version(1, '2026-01-01T00:00:00Z', { input_per_mtok: '1.00000000', cache_write_1h_per_mtok: '2.00000000' })];
    expect(diffPrices([price()], history, t)[0]!.status).toBe('unchanged');
  });

  it('appends only: refuses a price before a later version, or a different one at the same instant', () => {
    const later = () => [version(1, '2027-01-01T00:00:00Z')];
    expect(diffPrices([price({ input_per_mtok: '9' })], later, t)[0]).toMatchObject({ status: 'refused', reason: expect.stringMatching(/later price/) });
    const same = () => [version(1, t.toISOString())];
    expect(diffPrices([price({ input_per_mtok: '9' })], same, t)[0]).toMatchObject({ status: 'refused', reason: expect.stringMatching(/never edited/) });
  });

  it('moves in percent with one decimal, half to even, and none from 0', () => {
    expect(percentMove('3', '3.75')).toBe('+25.0');
    expect(percentMove('0.30', '0.3')).toBe('+0.0');
    expect(percentMove('3', '1')).toBe('-66.7');
    expect(percentMove('0', '1')).toBeNull();
  });
});
