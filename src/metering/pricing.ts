import type { NormalizedUsage } from '../providers/types.js';
import { compare, parseDecimal, rescale, toMoney } from './money.js';

export type ServiceTier = 'standard' | 'flex' | 'priority' | 'batch';
export const SERVICE_TIERS: readonly ServiceTier[] = ['standard', 'flex', 'priority', 'batch'];

/** What a model costs per million tokens of each kind. Decimal strings (numeric(20,8)), never floats. */
export type PriceKinds = {
  input_per_mtok: string;
  cached_input_per_mtok: string;
  /** Cache writes that live 5 minutes (OpenAI bills none). */
  cache_write_per_mtok: string;
  /** Cache writes that live an hour; null (or absent) when the model has no such price: billed as 5-minute ones. */
  cache_write_1h_per_mtok?: string | null;
  output_per_mtok: string;
  currency: string;
};

/** One row of `prices`: what a model costs on one service tier from effective_from on. */
export type PriceRow = PriceKinds & {
  id: number;
  model_id: string;
  /** Absent in rows made before tiers were priced: standard. */
  service_tier?: ServiceTier;
  effective_from: Date | string;
  /** The model's provider (joined from models), for estimates of unpriced models. */
  provider_id?: string;
};

export interface PriceBook {
  /**
   * The row in force at `at` for the tier that served the call: the latest effective_from <= at, falling back
   * to the standard tier when the model has no row for that tier; null when the model has no price yet.
   */
  priceAt(modelId: string, at: Date, tier?: string): PriceRow | null;
  /**
   * A price for a model that has none, when the policy allows it on an estimate: each kind at the highest price
   * in force at `at` among the provider's models (an upper bound, so budgets are never under-charged).
   */
  estimateAt(provider: string, at: Date): PriceKinds | null;
  readonly size: number;
}

type Versions = { from: number[]; rows: PriceRow[] };
type ModelTiers = Map<string, Versions>;

export function createPriceBook(rows: readonly PriceRow[]): PriceBook {
  const byModel = new Map<string, ModelTiers>();
  const providers = new Map<string, Set<string>>();
  const sorted = [...rows].sort((a, b) => epoch(a.effective_from) - epoch(b.effective_from));
  for (const row of sorted) {
    const tiers = byModel.get(row.model_id) ?? new Map<string, Versions>();
    const versions = tiers.get(row.service_tier ?? 'standard') ?? { from: [], rows: [] };
    versions.from.push(epoch(row.effective_from));
    versions.rows.push(row);
    tiers.set(row.service_tier ?? 'standard', versions);
    byModel.set(row.model_id, tiers);
    if (row.provider_id) providers.set(row.provider_id, (providers.get(row.provider_id) ?? new Set()).add(row.model_id));
  }
  const inForce = (versions: Versions | undefined, at: Date): PriceRow | null => {
    if (!versions) return null;
    const i = lastAtOrBefore(versions.from, at.getTime());
    return i < 0 ? null : versions.rows[i]!;
  };
  return {
    size: rows.length,
    priceAt(modelId, at, tier = 'standard') {
      const tiers = byModel.get(modelId);
      if (!tiers) return null;
      return (tier !== 'standard' ? inForce(tiers.get(tier), at) : null) ?? inForce(tiers.get('standard'), at);
    },
    estimateAt(provider, at) {
      const inForceRows = [...(providers.get(provider) ?? [])].map((m) => inForce(byModel.get(m)?.get('standard'), at)).filter((r) => r !== null);
      return inForceRows.length === 0 ? null : ceiling(inForceRows);
    },
  };
}

const KIND_FIELDS = ['input_per_mtok', 'cached_input_per_mtok', 'cache_write_per_mtok', 'output_per_mtok'] as const;

function ceiling(rows: readonly PriceRow[]): PriceKinds {
  const max = (values: string[]) => values.reduce((a, b) => (compare(a, b) >= 0 ? a : b));
  const kinds = Object.fromEntries(KIND_FIELDS.map((k) => [k, max(rows.map((r) => r[k]))])) as Record<(typeof KIND_FIELDS)[number], string>;
  const hour = rows.map((r) => r.cache_write_1h_per_mtok).filter((v): v is string => typeof v === 'string');
  return { ...kinds, cache_write_1h_per_mtok: hour.length > 0 ? max(hour) : null, currency: rows[0]!.currency };
}

/**
 * Σ tokens_k × price_k / 10^6 over the four token kinds, exact, as a money string (see money.ts). Cache writes
 * that live an hour are the part of cache_write_tokens in cache_write_1h_tokens, at their own price.
 */
export function costOf(usage: NormalizedUsage, price: PriceKinds): string {
  const p = parsed(price);
  const hour = usage.cache_write_1h_tokens ?? 0;
  const units =
    tokenUnits(usage.input_tokens) * p.input +
    tokenUnits(usage.cached_input_tokens) * p.cachedInput +
    tokenUnits(usage.cache_write_tokens - hour) * p.cacheWrite +
    tokenUnits(hour) * p.cacheWrite1h +
    tokenUnits(usage.output_tokens) * p.output;
  return toMoney({ units, scale: p.scale + TOKENS_PER_PRICE_UNIT });
}

const TOKENS_PER_PRICE_UNIT = 6; // prices are per million tokens

/** A price's kinds as integers at one scale, parsed once per price row (every call prices two to four times). */
type ParsedKinds = { scale: number; input: bigint; cachedInput: bigint; cacheWrite: bigint; cacheWrite1h: bigint; output: bigint };
const PARSED = new WeakMap<PriceKinds, ParsedKinds>();

function parsed(price: PriceKinds): ParsedKinds {
  const hit = PARSED.get(price);
  if (hit !== undefined) return hit;
  const kinds = [price.input_per_mtok, price.cached_input_per_mtok, price.cache_write_per_mtok, price.cache_write_1h_per_mtok ?? price.cache_write_per_mtok, price.output_per_mtok].map(parseDecimal);
  const scale = Math.max(...kinds.map((k) => k.scale));
  const [input, cachedInput, cacheWrite, cacheWrite1h, output] = kinds.map((k) => rescale(k, scale).units) as [bigint, bigint, bigint, bigint, bigint];
  const p = { scale, input, cachedInput, cacheWrite, cacheWrite1h, output };
  // Rows are read once and never changed in place: a changed price is a new row (prices are effective-dated).
  PARSED.set(price, p);
  return p;
}

function tokenUnits(tokens: number): bigint {
  if (!Number.isSafeInteger(tokens)) throw new RangeError(`token count is not a safe integer: ${tokens}`);
  return BigInt(tokens);
}

function epoch(value: Date | string): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`not a valid effective_from: ${String(value)}`);
  return ms;
}

/** Index of the last element <= target in an ascending array, or -1. */
function lastAtOrBefore(sortedAsc: readonly number[], target: number): number {
  let lo = 0;
  let hi = sortedAsc.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sortedAsc[mid]! <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
