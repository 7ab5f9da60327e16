import { expect } from 'vitest';
import { upsertBudget } from '../../src/db/budgets.js';
import { upsertCatalogEntries, type PriceEntry } from '../../src/db/catalog-entries.js';
import type { NormalizedUsage } from '../../src/providers/types.js';
import { costAt, normalizeDecimal } from './expect-cost.js';
import type { Gateway, Tags } from './gateway.js';

/**
 * The catalog the agent tests run on, written by the tests themselves (the demo catalog is not theirs to rely
 * on): an engineering BU whose coding agents work on one use case with room to spare and on one whose budget
 * cannot afford a single call. Prices are test figures, not anyone's list price.
 */

export const ENGINEERING = 'engineering';
export const CODING = 'coding-agents';
export const CAPPED = 'coding-agents-capped';

type TestPrice = Omit<PriceEntry, 'model_id' | 'effective_from'>;
const price = (input: string, cached: string, write: string, output: string): TestPrice =>
  ({ input_per_mtok: input, cached_input_per_mtok: cached, cache_write_per_mtok: write, output_per_mtok: output });

/**
 * A vendor's model (Gemini) is a catalog model of its own, named as LiteLLM names it (`gemini/gemini-2.5-pro`), that
 * the vendor knows by another id (`vendor`, what the agent sends and the fake tallies): README, Cloud vendors.
 */
export const TEST_MODELS: Readonly<Record<string, { provider: 'anthropic' | 'openai' | 'gemini'; price: TestPrice; vendor?: string }>> = {
  'claude-opus-5-5': { provider: 'anthropic', price: price('5', '0.5', '6.25', '25') },
  'claude-sonnet-5-5': { provider: 'anthropic', price: price('3', '0.3', '3.75', '15') },
  'claude-haiku-5-5': { provider: 'anthropic', price: price('1', '0.1', '1.25', '5') },
  'gpt-6.2-sol': { provider: 'openai', price: price('1.25', '0.125', '0', '10') },
  'gpt-6-luna': { provider: 'openai', price: price('0.25', '0.025', '0', '2') },
  // Gemini CLI's DEFAULT_GEMINI_MODEL, the model README's recipe pins.
  'gemini/gemini-2.5-pro': { provider: 'gemini', price: price('1.25', '0.125', '0', '10'), vendor: 'gemini-2.5-pro' },
};

/** The catalog model the fake's tally names by its vendor id. */
const CATALOG_ID: ReadonlyMap<string, string> = new Map(Object.entries(TEST_MODELS).flatMap(([id, m]) => (m.vendor === undefined ? [] : [[m.vendor, id] as const])));
const catalogId = (tallied: string) => CATALOG_ID.get(tallied) ?? tallied;

export function tagsFor(agentId: string, sessionId: string, useCase = CODING): Tags {
  return { bu: ENGINEERING, use_case: useCase, agent_id: agentId, session_id: sessionId };
}

/** The catalog rows, each agent allowed both use cases and the models given; a budget on each use case. */
export async function seedAgentCatalog(gw: Gateway, agents: readonly { id: string; models: readonly string[] }[]): Promise<void> {
  const owner = { owner_name: 'Platform engineering lead', owner_email: 'platform@example.com' };
  const models = [...new Set(agents.flatMap((a) => a.models))];
  await upsertCatalogEntries(gw.app.tollgate.db, {
    businessUnits: [{ id: ENGINEERING, name: 'Engineering', ...owner, finance_name: 'Engineering finance partner', finance_email: 'eng-finance@example.com' }],
    useCases: [CODING, CAPPED].map((id) => ({ id, bu_id: ENGINEERING, name: id, class: 'software-delivery', ...owner })),
    providers: [{ id: 'anthropic', name: 'Anthropic', api_style: 'anthropic' }, { id: 'openai', name: 'OpenAI', api_style: 'openai' }, { id: 'gemini', name: 'Google Gemini', api_style: 'gemini' }],
    models: models.map((id) => ({ id, provider_id: TEST_MODELS[id]!.provider, family: id, display_name: id, vendor_model_id: TEST_MODELS[id]!.vendor ?? null })),
    aliases: models.flatMap((id) => { const m = TEST_MODELS[id]!; return m.vendor === undefined ? [] : [{ provider_id: m.provider, alias: m.vendor, model_id: id }]; }),
    prices: models.map((id) => ({ model_id: id, effective_from: '2026-01-01T00:00:00Z', ...TEST_MODELS[id]!.price, source: 'test price' })),
    agents: agents.map((a) => ({ id: a.id, bu_id: ENGINEERING, name: a.id, use_cases: [CODING, CAPPED], models: a.models })),
  });
  await upsertBudget(gw.app.tollgate.db, { scope: 'use_case', scopeId: CODING, limit: '1000', unit: 'usd', period: 'month' });
  // Not even a prompt's input fits: every call is refused at the hard cap (budget_exhausted).
  await upsertBudget(gw.app.tollgate.db, { scope: 'use_case', scopeId: CAPPED, limit: '0.000001', unit: 'usd', period: 'month' });
  await Promise.all([gw.app.tollgate.catalog.refresh(), gw.app.tollgate.prices.refresh()]);
}

type LedgerRow = Record<string, unknown>;
const tokens = (u: NormalizedUsage) => [u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens].join('/');
const sorted = (items: string[]) => [...items].sort();

/**
 * The session's ledger rows equal the fake upstream's own tally, call by call (model and each token kind), every
 * one complete and priced at the test price; returns the rows.
 */
export async function expectLedgerMatchesTally(gw: Gateway, sessionId: string): Promise<LedgerRow[]> {
  await gw.flush();
  const rows = (await gw.app.tollgate.db('usage_events').where('session_id', sessionId).orderBy('ts')) as LedgerRow[];
  const tally = gw.upstream.usageLog;
  expect(tally.length).toBeGreaterThan(0);
  expect(tally.every((r) => r.complete && r.status === 200)).toBe(true);
  const rowTokens = (r: LedgerRow) => tokens({
    input_tokens: Number(r.input_tokens), cached_input_tokens: Number(r.cached_input_tokens),
    cache_write_tokens: Number(r.cache_write_tokens), output_tokens: Number(r.output_tokens),
  });
  expect(sorted(rows.map((r) => `${String(r.model_served)} ${rowTokens(r)}`))).toEqual(sorted(tally.map((r) => `${catalogId(String(r.model))} ${tokens(r.usage)}`)));
  for (const r of rows) {
    expect(r).toMatchObject({ status: 200, partial: false, decision_code: 'ok' });
    const model = String(r.model_served);
    const usage = { input_tokens: Number(r.input_tokens), cached_input_tokens: Number(r.cached_input_tokens), cache_write_tokens: Number(r.cache_write_tokens), output_tokens: Number(r.output_tokens) };
    expect(normalizeDecimal(r.cost as string)).toBe(costAt(usage, TEST_MODELS[model]!.price));
  }
  return rows;
}

/** The session's refusals in the decision log. */
export async function refusals(gw: Gateway, sessionId: string): Promise<LedgerRow[]> {
  await gw.flush();
  return (await gw.app.tollgate.db('decision_log').where('session_id', sessionId)) as LedgerRow[];
}
