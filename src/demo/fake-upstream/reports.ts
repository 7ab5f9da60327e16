import { costPerMillion, formatDecimal, MONEY_SCALE, rescale, sum, type Decimal } from '../../metering/money.js';

/**
 * What the fake report APIs know: the calls an organization made (per day, key, project or workspace, model),
 * priced at the fake's list prices. Both providers' usage and cost reports are views of these (report-openai.ts,
 * report-anthropic.ts), so a test states spend once and gets consistent reports, as a provider's are.
 */

export type FakeReportCall = {
  provider: 'openai' | 'anthropic';
  /** YYYY-MM-DD (UTC). */
  day: string;
  apiKeyId: string | null;
  /** OpenAI project or Anthropic workspace; null for the default workspace. */
  scopeId: string | null;
  /** The id the provider reports (often a dated snapshot). */
  model: string;
  input: number;
  cachedInput: number;
  /** Anthropic: 5-minute cache writes; OpenAI: cache writes. */
  cacheWrite: number;
  /** Anthropic only: 1-hour cache writes. */
  cacheWrite1h?: number;
  output: number;
  requests: number;
};

/** Per million tokens, decimal strings. */
export type FakePrice = { input: string; cachedInput: string; cacheWrite: string; cacheWrite1h?: string; output: string };

/** A call's cost per billed token kind, exact. */
export type PricedPart = { kind: 'input' | 'cached_input' | 'cache_write' | 'cache_write_1h' | 'output'; tokens: number; usd: Decimal };

export function pricedParts(call: FakeReportCall, price: FakePrice | undefined): PricedPart[] {
  if (!price) throw new Error(`the fake has no price for ${call.model}`);
  const parts: PricedPart[] = [
    { kind: 'input', tokens: call.input, usd: costPerMillion(call.input, price.input) },
    { kind: 'cached_input', tokens: call.cachedInput, usd: costPerMillion(call.cachedInput, price.cachedInput) },
    { kind: 'cache_write', tokens: call.cacheWrite, usd: costPerMillion(call.cacheWrite, price.cacheWrite) },
    { kind: 'cache_write_1h', tokens: call.cacheWrite1h ?? 0, usd: costPerMillion(call.cacheWrite1h ?? 0, price.cacheWrite1h ?? price.cacheWrite) },
    { kind: 'output', tokens: call.output, usd: costPerMillion(call.output, price.output) },
  ];
  return parts.filter((p) => p.tokens > 0);
}

/** Exact USD of a set of calls (what a test expects a report to add up to). */
export function fakeCost(calls: readonly FakeReportCall[], prices: Readonly<Record<string, FakePrice>>): string {
  return formatDecimal(rescale(sum(calls.flatMap((c) => pricedParts(c, prices[c.model]).map((p) => p.usd))), MONEY_SCALE));
}

/** Groups items by the values `fields` pick (the report's group_by); the other fields report null. */
export function groupBy<T>(items: readonly T[], fields: readonly string[], pick: (item: T, field: string) => string | null): Map<string, { values: Record<string, string | null>; items: T[] }> {
  const out = new Map<string, { values: Record<string, string | null>; items: T[] }>();
  for (const item of items) {
    const values = Object.fromEntries(fields.map((f) => [f, pick(item, f)]));
    const key = JSON.stringify(values);
    const g = out.get(key) ?? { values, items: [] };
    g.items.push(item);
    out.set(key, g);
  }
  return out;
}

export const sumOf = <T>(items: readonly T[], f: (x: T) => number) => items.reduce((n, x) => n + f(x), 0);
