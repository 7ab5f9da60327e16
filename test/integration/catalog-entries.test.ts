import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalogEntries, type CatalogEntries } from '../../src/db/catalog-entries.js';
import { loadCatalog } from '../../src/db/catalog.js';
import { loadPrices } from '../../src/db/prices.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let t: TestDb;

beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => t?.drop());

const owner = { owner_name: 'Owner', owner_email: 'owner@example.com' };
const entries: CatalogEntries = {
  businessUnits: [{ id: 'eng', name: 'Engineering', ...owner, finance_name: 'Finance', finance_email: 'finance@example.com' }],
  useCases: [{ id: 'coding', bu_id: 'eng', name: 'Coding', class: 'software-delivery', ...owner }],
  providers: [{ id: 'anthropic', name: 'Anthropic', api_style: 'anthropic' }],
  models: [{ id: 'model-a', provider_id: 'anthropic', family: 'a', display_name: 'A' }, { id: 'model-b', provider_id: 'anthropic', family: 'b', display_name: 'B' }],
  prices: [{ model_id: 'model-a', effective_from: '2026-01-01T00:00:00Z', input_per_mtok: '1.5', cached_input_per_mtok: '0.15', cache_write_per_mtok: '1.875', output_per_mtok: '7.5' }],
  agents: [{ id: 'coder', bu_id: 'eng', name: 'Coder', use_cases: ['coding'], models: ['model-a', 'model-b'] }],
};

describe('catalog entries', () => {
  it('writes parents before children, and a second write of the same entries changes nothing', async () => {
    await upsertCatalogEntries(t.db, entries);
    const first = await loadCatalog(t.db);
    expect(first.agents).toEqual([expect.objectContaining({ id: 'coder', use_cases: ['coding'], models: expect.arrayContaining(['model-a', 'model-b']) })]);
    await upsertCatalogEntries(t.db, entries);
    expect(await loadCatalog(t.db)).toEqual(first);
    const prices = await loadPrices(t.db);
    expect(prices).toHaveLength(1);
    expect(Number(prices[0]!.output_per_mtok)).toBe(7.5);
  });

  it("adds a vendor's model with its canonical model, the id the vendor takes, its deployment alias and its ladder", async () => {
    await upsertCatalogEntries(t.db, {
      providers: [{ id: 'azure', name: 'Azure OpenAI', api_style: 'openai' }],
      models: [
        { id: 'azure/model-a', provider_id: 'azure', family: 'a', display_name: 'A on Azure', canonical_model_id: 'model-a', vendor_model_id: 'prod-a' },
        { id: 'azure/model-b', provider_id: 'azure', family: 'b', display_name: 'B on Azure', canonical_model_id: 'model-b', vendor_model_id: 'prod-b' },
      ],
      aliases: [{ provider_id: 'azure', alias: 'prod-a', model_id: 'azure/model-a' }],
      ladder: [{ model_id: 'azure/model-a', cheaper_model_id: 'azure/model-b' }],
    });
    const { models, aliases, ladder } = await loadCatalog(t.db);
    expect(models.find((m) => m.id === 'azure/model-a')).toMatchObject({ provider_id: 'azure', canonical_model_id: 'model-a', vendor_model_id: 'prod-a' });
    expect(models.find((m) => m.id === 'model-a')).toMatchObject({ canonical_model_id: null, vendor_model_id: null });
    expect(aliases).toContainEqual({ provider_id: 'azure', alias: 'prod-a', model_id: 'azure/model-a' });
    expect(ladder).toContainEqual({ model_id: 'azure/model-a', cheaper_model_id: 'azure/model-b' });
  });

  it('gives an agent exactly the models and use cases written last', async () => {
    await upsertCatalogEntries(t.db, { agents: [{ id: 'coder', bu_id: 'eng', name: 'Coder', use_cases: ['coding'], models: ['model-b'] }] });
    const { agents } = await loadCatalog(t.db);
    expect(agents.find((a) => a.id === 'coder')?.models).toEqual(['model-b']);
  });
});
