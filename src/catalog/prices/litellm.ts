import { parse } from 'lossless-json';
import type { ServiceTier } from '../../metering/pricing.js';
import { perTokenToPerMillion, PriceTextError } from './decimal-text.js';
import type { ParsedPrices, PriceInput } from './types.js';

/**
 * LiteLLM's community price map (model_prices_and_context_window.json): one entry per model id with USD per
 * token as JSON numbers. Numbers are read as their source text (lossless-json) and converted exactly.
 */

/** litellm_provider → tollgate's provider. Adding a provider is one line here. */
export const LITELLM_PROVIDERS: Readonly<Record<string, string>> = Object.freeze({
  openai: 'openai',
  anthropic: 'anthropic',
  azure: 'azure',
  gemini: 'gemini',
  bedrock: 'bedrock',
  bedrock_converse: 'bedrock',
  'vertex_ai-language-models': 'vertex',
  'vertex_ai-anthropic_models': 'vertex',
});

/** Key prefixes LiteLLM routes by, not part of the vendor's model id (`vertex_ai/claude-haiku-4-5@20251001`). */
const ROUTE_PREFIXES: readonly string[] = Object.freeze(['vertex_ai/', 'bedrock/', 'bedrock_converse/']);

/** The modes of the endpoints tollgate forwards (chat completions and messages, responses, embeddings). */
export const SERVED_MODES: ReadonlySet<string> = new Set(['chat', 'responses', 'embedding']);

/** The keys of each service tier's prices: standard ones, and the suffix the other tiers add to them. */
const TIER_SUFFIX: Readonly<Record<Exclude<ServiceTier, 'standard'>, string>> = Object.freeze({
  flex: '_flex',
  priority: '_priority',
  batch: '_batches',
});

const KEYS = {
  input: 'input_cost_per_token',
  cachedInput: 'cache_read_input_token_cost',
  cacheWrite: 'cache_creation_input_token_cost',
  cacheWrite1h: 'cache_creation_input_token_cost_above_1hr',
  output: 'output_cost_per_token',
} as const;

/** The catalog as the importer needs it: models by provider, and their aliases. */
export type CatalogModels = {
  /** vendor_model_id: the id a cloud vendor's API takes for the model (Bedrock's, Vertex AI's), when it has one. */
  models: readonly { id: string; provider_id: string; vendor_model_id?: string | null }[];
  aliases: readonly { provider_id: string; alias: string; model_id: string }[];
};

type Entry = Record<string, unknown>;

export function parseLiteLlm(text: string, catalog: CatalogModels, source: string): ParsedPrices {
  const map = parse(text, null, (numberText: string) => numberText) as Record<string, unknown>;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new PriceTextError('a LiteLLM price map is a JSON object of model entries');
  const resolve = catalogResolver(catalog);
  const out: ParsedPrices = { prices: [], notInCatalog: [], skipped: 0, rejected: [] };
  // An entry named exactly like the catalog model wins over its aliases' entries (dated snapshots); aliases
  // that disagree with each other, with no exact entry to settle it, are refused.
  const chosen = new Map<string, { key: string; exact: boolean; entry: Entry }>();
  const conflicts = new Map<string, { key: string; reason: string }>();
  for (const [key, value] of Object.entries(map)) {
    const entry = value as Entry;
    const provider = typeof entry?.litellm_provider === 'string' ? LITELLM_PROVIDERS[entry.litellm_provider] : undefined;
    if (!provider || !SERVED_MODES.has(String(entry.mode)) || typeof entry[KEYS.input] !== 'string') {
      out.skipped++;
      continue;
    }
    const id = bareId(key, String(entry.litellm_provider));
    // A vendor's catalog model is named like LiteLLM's key (azure/gpt-4o, gemini/gemini-2.5-flash); others by the bare
    // id, a cloud vendor's through its aliases (anthropic.claude-…-v1:0 on Bedrock, claude-…@2025… on Vertex AI).
    const model = resolve(provider, key) ?? resolve(provider, id);
    if (!model) {
      out.notInCatalog.push(`${provider}/${id}`);
      continue;
    }
    // The vendor's own id for the model is its exact entry: Bedrock's cross-region profiles (us.…, eu.…) are
    // aliases priced apart, and do not conflict with it.
    const exact = model.id === id || model.id === key || (model.vendor_model_id != null && model.vendor_model_id === id);
    const seen = chosen.get(model.id);
    if (seen && !seen.exact && !exact && !samePrices(seen.entry, entry)) {
      conflicts.set(model.id, { key, reason: `an alias of ${model.id} like ${seen.key}, with other prices; give ${model.id} an entry of its own` });
    }
    if (!seen || (exact && !seen.exact)) chosen.set(model.id, { key, exact, entry });
  }
  for (const [modelId, { key, exact, entry }] of chosen) {
    const conflict = conflicts.get(modelId);
    if (conflict && !exact) {
      out.rejected.push(conflict);
      continue;
    }
    try {
      out.prices.push(...pricesOf(modelId, entry, source));
    } catch (err) {
      if (!(err instanceof PriceTextError)) throw err;
      out.rejected.push({ key, reason: err.message });
    }
  }
  return out;
}

/** The model id in a LiteLLM key: without its provider's prefix, or a routing prefix LiteLLM adds. */
function bareId(key: string, litellmProvider: string): string {
  if (key.startsWith(`${litellmProvider}/`)) return key.slice(litellmProvider.length + 1);
  const route = ROUTE_PREFIXES.find((prefix) => key.startsWith(prefix));
  return route === undefined ? key : key.slice(route.length);
}

function catalogResolver(catalog: CatalogModels) {
  const models = new Map(catalog.models.map((m) => [`${m.provider_id}\u0000${m.id}`, m]));
  const aliases = new Map(catalog.aliases.map((a) => [`${a.provider_id}\u0000${a.alias}`, a.model_id]));
  return (provider: string, id: string) => {
    const direct = models.get(`${provider}\u0000${id}`);
    if (direct) return direct;
    const target = aliases.get(`${provider}\u0000${id}`);
    return target === undefined ? undefined : models.get(`${provider}\u0000${target}`);
  };
}

function samePrices(a: Entry, b: Entry): boolean {
  return Object.keys({ ...a, ...b }).filter((k) => k.includes('cost')).every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/**
 * The entry's standard prices, and one row per other service tier it prices. A kind the entry leaves out:
 * cache reads at the input price (no discount), cache writes at 0 (the provider bills none), the 1-hour
 * write as null (billed as a 5-minute one), output at 0 (embeddings); a tier's missing kind at the standard one.
 */
function pricesOf(modelId: string, e: Entry, source: string): PriceInput[] {
  const at = (key: string) => (typeof e[key] === 'string' ? perTokenToPerMillion(e[key]) : undefined);
  const input = at(KEYS.input)!;
  const standard: PriceInput = {
    model_id: modelId,
    service_tier: 'standard',
    input_per_mtok: input,
    cached_input_per_mtok: at(KEYS.cachedInput) ?? input,
    cache_write_per_mtok: at(KEYS.cacheWrite) ?? '0',
    cache_write_1h_per_mtok: at(KEYS.cacheWrite1h) ?? null,
    output_per_mtok: at(KEYS.output) ?? '0',
    currency: 'USD',
    source,
  };
  const tiers = (Object.entries(TIER_SUFFIX) as [Exclude<ServiceTier, 'standard'>, string][])
    .filter(([, suffix]) => at(KEYS.input + suffix) !== undefined)
    .map(([tier, suffix]): PriceInput => ({
      ...standard,
      service_tier: tier,
      input_per_mtok: at(KEYS.input + suffix)!,
      cached_input_per_mtok: at(KEYS.cachedInput + suffix) ?? standard.cached_input_per_mtok,
      output_per_mtok: at(KEYS.output + suffix) ?? standard.output_per_mtok,
    }));
  return [standard, ...tiers];
}
