import { compare, formatDecimal, parseDecimal, rescale, type Decimal, type DecimalInput } from '../metering/money.js';

/**
 * A budget's tier and its end-of-period forecast, pure. Tiers use the thresholds of the loaded policy
 * bundle's data (config.budget.tiers) and the policy's rule: a tier is reached when spent + reserved is
 * at or above limit × threshold. Compared exactly (limit × threshold in decimals), so a ratio that prints
 * as 0.800000 is never a tier off from what the policy decided on the same figures.
 */

export type BudgetTier = 'NONE' | 'OK' | 'NOTICE' | 'WARNING' | 'SOFT_CAP' | 'HARD_CAP' | 'UNKNOWN';
export type Thresholds = { notice: number; warning: number; soft_cap: number; hard_cap: number };
export type ForecastPeriod = 'day' | 'week' | 'month' | 'quarter';
export type ForecastMethod = 'LINEAR' | 'PERIOD_ENDED' | 'TOO_EARLY';

export const RATIO_SCALE = 6;
const TIERS_HIGH_FIRST = [['hard_cap', 'HARD_CAP'], ['soft_cap', 'SOFT_CAP'], ['warning', 'WARNING'], ['notice', 'NOTICE']] as const;

/** The bundle data's thresholds, or null when the data does not carry four numbers (tiers are then UNKNOWN). */
export function thresholdsFrom(data: unknown): Thresholds | null {
  const t = (data as { config?: { budget?: { tiers?: Record<string, unknown> } } } | null)?.config?.budget?.tiers;
  if (!t) return null;
  const names = ['notice', 'warning', 'soft_cap', 'hard_cap'] as const;
  if (!names.every((n) => typeof t[n] === 'number' && Number.isFinite(t[n]))) return null;
  return { notice: t.notice as number, warning: t.warning as number, soft_cap: t.soft_cap as number, hard_cap: t.hard_cap as number };
}

/** The exclusive end of the period that starts at `start` (UTC; weeks start on Monday, as date_trunc says). */
export function periodEnd(period: ForecastPeriod, start: Date): Date {
  const d = new Date(start.getTime());
  if (period === 'day') d.setUTCDate(d.getUTCDate() + 1);
  else if (period === 'week') d.setUTCDate(d.getUTCDate() + 7);
  else d.setUTCMonth(d.getUTCMonth() + (period === 'month' ? 1 : 3));
  return d;
}

/** used ÷ limit, RATIO_SCALE decimals (half-even); null when there is no positive limit. */
export function ratioOf(used: DecimalInput, limit: DecimalInput | null): string | null {
  if (limit === null || compare(limit, '0') <= 0) return null;
  return formatRatio(divide(used, limit, RATIO_SCALE));
}

/** The tier of `used` against `limit`, by the policy's rule; a limit of 0 or less is a hard cap. */
export function tierOf(used: DecimalInput, limit: DecimalInput | null, thresholds: Thresholds | null): BudgetTier {
  if (limit === null) return 'NONE';
  if (!thresholds) return 'UNKNOWN';
  if (compare(limit, '0') <= 0) return 'HARD_CAP';
  const hit = TIERS_HIGH_FIRST.find(([key]) => compare(used, times(limit, thresholds[key])) >= 0);
  return hit ? hit[1] : 'OK';
}

export type ForecastInput = {
  /** Real spend so far (reservations are calls in flight, not burn). */
  spent: string;
  limit: string | null;
  periodStart: Date;
  periodEnd: Date;
  asOf: Date;
  thresholds: Thresholds | null;
};

export type Forecast = {
  projectedSpend: string | null;
  projectedRatio: string | null;
  projectedTier: BudgetTier;
  exhaustsAt: Date | null;
  method: ForecastMethod;
};

/**
 * The period's end at the current burn rate, linear: spent ÷ elapsed fraction of the period. exhaustsAt
 * is when the hard cap (limit × hard_cap threshold) is reached at that rate: null when that is past the
 * period's end (or nothing is spent); `asOf` itself when the cap is already reached. At the very start
 * of a period there is no rate yet (TOO_EARLY: nothing projected); after its end the projection is the
 * actual (PERIOD_ENDED).
 */
export function forecastBudget(f: ForecastInput): Forecast {
  const total = BigInt(f.periodEnd.getTime() - f.periodStart.getTime());
  const elapsed = BigInt(Math.min(f.asOf.getTime(), f.periodEnd.getTime()) - f.periodStart.getTime());
  if (elapsed <= 0n || total <= 0n) {
    return { projectedSpend: null, projectedRatio: null, projectedTier: 'UNKNOWN', exhaustsAt: alreadyExhausted(f) ? f.asOf : null, method: 'TOO_EARLY' };
  }
  const spent = parseDecimal(f.spent);
  const projected: Decimal = { units: divRound(spent.units * total, elapsed), scale: spent.scale };
  return {
    projectedSpend: formatPlain(projected, spent.scale),
    projectedRatio: ratioOf(projected, f.limit),
    projectedTier: tierOf(projected, f.limit, f.thresholds),
    exhaustsAt: exhaustsAt(f, spent, elapsed),
    method: elapsed >= total ? 'PERIOD_ENDED' : 'LINEAR',
  };
}

function exhaustsAt(f: ForecastInput, spent: Decimal, elapsed: bigint): Date | null {
  if (alreadyExhausted(f)) return f.asOf;
  if (f.limit === null || !f.thresholds || spent.units <= 0n) return null;
  const [cap, s] = alignedPair(times(f.limit, f.thresholds.hard_cap), spent);
  const at = f.periodStart.getTime() + Number(divRound(elapsed * cap.units, s.units));
  return at < f.periodEnd.getTime() ? new Date(at) : null;
}

function alreadyExhausted(f: ForecastInput): boolean {
  return f.limit !== null && f.thresholds !== null && compare(f.spent, times(f.limit, f.thresholds.hard_cap)) >= 0;
}

/** limit × a threshold given as a JS number (0.8 → "0.8", exactly as written in data.json). */
function times(limit: DecimalInput, factor: number): Decimal {
  const l = typeof limit === 'string' ? parseDecimal(limit) : limit;
  const f = parseDecimal(String(factor));
  return { units: l.units * f.units, scale: l.scale + f.scale };
}

function divide(a: DecimalInput, b: DecimalInput, scale: number): Decimal {
  const [x, y] = alignedPair(a, b);
  return { units: divRound(x.units * 10n ** BigInt(scale), y.units), scale };
}

function alignedPair(a: DecimalInput, b: DecimalInput): [Decimal, Decimal] {
  const x = typeof a === 'string' ? parseDecimal(a) : a;
  const y = typeof b === 'string' ? parseDecimal(b) : b;
  const scale = Math.max(x.scale, y.scale);
  return [rescale(x, scale), rescale(y, scale)];
}

// Half away from zero is enough here: projections are estimates; money in the ledger rounds elsewhere.
function divRound(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n % d;
  return 2n * (r < 0n ? -r : r) >= (d < 0n ? -d : d) ? q + (n < 0n === d < 0n ? 1n : -1n) : q;
}

function formatRatio(d: Decimal): string {
  return formatPlain(d, RATIO_SCALE);
}

function formatPlain(d: Decimal, scale: number): string {
  return formatDecimal(rescale(d, scale));
}
