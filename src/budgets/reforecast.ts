import { forecastBudget, tierOf, type BudgetTier, type ForecastInput } from '../analytics/forecast.js';
import { add, costPerMillion, formatDecimal, parseDecimal, rescale, sum, toMoney, type Decimal } from '../metering/money.js';
import type { PriceKinds } from '../metering/pricing.js';

/**
 * A budget's forecast to the end of its period, again at new prices, pure. Today's linear forecast projects
 * the period's spend rate; when a model's price moves, the part of that rate the model makes up moves with it:
 * its tokens so far in the period, projected over what is left of it, priced at new − old.
 * new forecast = old forecast + Σ_kind tokens_kind × (left ÷ elapsed) × (new_kind − old_kind) / 10^6.
 */

export type Tokens = { input_tokens: number; cached_input_tokens: number; cache_write_tokens: number; output_tokens: number };

export type ReforecastInput = ForecastInput & {
  /** The model's tokens in the budget's scope since the period started. */
  tokens: Tokens;
  previous: PriceKinds;
  next: PriceKinds;
};

export type Reforecast = {
  oldForecast: string;
  newForecast: string;
  oldTier: BudgetTier;
  newTier: BudgetTier;
  /** The new forecast reaches a higher tier than the old one did (the owner is told). */
  crossed: boolean;
};

const RANK: Record<BudgetTier, number> = { NONE: -1, UNKNOWN: -1, OK: 0, NOTICE: 1, WARNING: 2, SOFT_CAP: 3, HARD_CAP: 4 };

/** null when there is no rate yet (the period just started) or nothing to project (the period ended). */
export function reforecast(r: ReforecastInput): Reforecast | null {
  const old = forecastBudget(r);
  if (old.method !== 'LINEAR' || old.projectedSpend === null) return null;
  const elapsed = BigInt(r.asOf.getTime() - r.periodStart.getTime());
  const left = BigInt(r.periodEnd.getTime() - r.asOf.getTime());
  const delta = sum([
    kindDelta(r.tokens.input_tokens, r.previous.input_per_mtok, r.next.input_per_mtok),
    kindDelta(r.tokens.cached_input_tokens, r.previous.cached_input_per_mtok, r.next.cached_input_per_mtok),
    kindDelta(r.tokens.cache_write_tokens, r.previous.cache_write_per_mtok, r.next.cache_write_per_mtok),
    kindDelta(r.tokens.output_tokens, r.previous.output_per_mtok, r.next.output_per_mtok),
  ]);
  const moved: Decimal = { units: (delta.units * left) / elapsed, scale: delta.scale };
  const newForecast = toMoney(add(old.projectedSpend, moved));
  const oldForecast = toMoney(old.projectedSpend);
  const oldTier = old.projectedTier;
  const newTier = tierOf(newForecast, r.limit, r.thresholds);
  return { oldForecast, newForecast, oldTier, newTier, crossed: RANK[newTier] > RANK[oldTier] && RANK[newTier] >= RANK.NOTICE };
}

function kindDelta(tokens: number, from: string, to: string): Decimal {
  const a = costPerMillion(tokens, from);
  const b = costPerMillion(tokens, to);
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(b, scale).units - rescale(a, scale).units, scale };
}

/** '1234.5' → '1,234.50 USD'. */
export function usd(value: string): string {
  const fixed = formatDecimal(rescale(parseDecimal(value), 2));
  const [whole = '0', cents = '00'] = fixed.split('.');
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents} USD`;
}
