import type { NormalizedUsage } from '../providers/types.js';
import { costPerMillion, sum, toMoney } from './money.js';

/** One row of `prices`: what a model costs per million tokens of each kind from effective_from on. */
export type PriceRow = {
  id: number;
  model_id: string;
  effective_from: Date | string;
  /** Decimal strings (numeric(20,8)), never floats. */
  input_per_mtok: string;
  cached_input_per_mtok: string;
  cache_write_per_mtok: string;
  output_per_mtok: string;
  currency: string;
};

export interface PriceBook {
  /** The row in force at `at`: the latest effective_from <= at, or null when the model has none yet. */
  priceAt(modelId: string, at: Date): PriceRow | null;
  readonly size: number;
}

type Versions = { from: number[]; rows: PriceRow[] };

export function createPriceBook(rows: readonly PriceRow[]): PriceBook {
  const byModel = new Map<string, Versions>();
  const sorted = [...rows].sort((a, b) => epoch(a.effective_from) - epoch(b.effective_from));
  for (const row of sorted) {
    const versions = byModel.get(row.model_id) ?? { from: [], rows: [] };
    versions.from.push(epoch(row.effective_from));
    versions.rows.push(row);
    byModel.set(row.model_id, versions);
  }
  return {
    size: rows.length,
    priceAt(modelId, at) {
      const versions = byModel.get(modelId);
      if (!versions) return null;
      const i = lastAtOrBefore(versions.from, at.getTime());
      return i < 0 ? null : versions.rows[i]!;
    },
  };
}

/** Σ tokens_k × price_k / 10^6 over the four token kinds, exact, as a money string (see money.ts). */
export function costOf(usage: NormalizedUsage, price: PriceRow): string {
  return toMoney(
    sum([
      costPerMillion(usage.input_tokens, price.input_per_mtok),
      costPerMillion(usage.cached_input_tokens, price.cached_input_per_mtok),
      costPerMillion(usage.cache_write_tokens, price.cache_write_per_mtok),
      costPerMillion(usage.output_tokens, price.output_per_mtok),
    ]),
  );
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
