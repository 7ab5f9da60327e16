import fs from 'node:fs';
import type { NormalizedUsage } from '../../src/providers/types.js';

type SeedPrice = { model_id: string; effective_from: string; input_per_mtok: string; cached_input_per_mtok: string; cache_write_per_mtok: string; output_per_mtok: string };
const seed = JSON.parse(fs.readFileSync(new URL('../../seeds/catalog.json', import.meta.url), 'utf8')) as { prices: SeedPrice[] };

/** The seed price in force for `model` at `at`, found independently of src/metering. */
export function seedPriceAt(model: string, at: Date): SeedPrice {
  const rows = seed.prices.filter((p) => p.model_id === model && Date.parse(p.effective_from) <= at.getTime());
  rows.sort((a, b) => Date.parse(b.effective_from) - Date.parse(a.effective_from));
  if (!rows[0]) throw new Error(`no seed price for ${model}`);
  return rows[0];
}

/** Σ tokens × price / 1e6, done in integer pico-dollars here so the test does not share the code under test. */
export function expectedCost(usage: NormalizedUsage, model: string, at = new Date()): string {
  return costAt(usage, seedPriceAt(model, at));
}

type PerMillion = Pick<SeedPrice, 'input_per_mtok' | 'cached_input_per_mtok' | 'cache_write_per_mtok' | 'output_per_mtok'>;

/** The cost of `usage` at `p` (prices per million tokens, at most 6 decimals), exact. */
export function costAt(usage: NormalizedUsage, p: PerMillion): string {
  const micro = (price: string) => {
    const [i, f = ''] = price.split('.');
    return BigInt(i!) * 1_000_000n + BigInt((f + '000000').slice(0, 6));
  };
  const pico = BigInt(usage.input_tokens) * micro(p.input_per_mtok)
    + BigInt(usage.cached_input_tokens) * micro(p.cached_input_per_mtok)
    + BigInt(usage.cache_write_tokens) * micro(p.cache_write_per_mtok)
    + BigInt(usage.output_tokens) * micro(p.output_per_mtok);
  return normalizeDecimal(`${pico / 1_000_000_000_000n}.${(pico % 1_000_000_000_000n).toString().padStart(12, '0')}`);
}

/** '0.001230000000' → '0.00123'; '5.000' → '5'. */
export function normalizeDecimal(v: string | number): string {
  const s = String(v);
  if (!s.includes('.')) return s;
  return s.replace(/0+$/, '').replace(/\.$/, '');
}
