import { compare, formatDecimal, MONEY_SCALE, parseDecimal, rescale, toMoney, type Decimal } from '../metering/money.js';

/**
 * Cost per outcome for one use case, metric and period [from, to):
 * - start = the metric's last point at or before `from` (the state the period started from);
 * - end = its last point in (from, to] (a point stamped exactly at `to` is the state at the period's end);
 * - delta = end − start; improvement = delta for an 'increase' metric, start − end for a 'decrease' one
 *   (handle time, error rate: lower is better);
 * - ratio = cost ÷ improvement, rounded half-even to MONEY_SCALE decimals (a quotient rarely terminates).
 * The ratio is null, with the reason, when it would mean nothing.
 */

export type OutcomeDirection = 'increase' | 'decrease';

export type OutcomeReason = 'NO_DATA' | 'MISSING_START' | 'MISSING_END' | 'ZERO_DELTA' | 'NEGATIVE_DELTA';

export type OutcomePoint = { ts: Date; value: string };

export type CostPerOutcomeInput = {
  /** Exact cost of the use case in the period. */
  cost: string;
  direction: OutcomeDirection;
  /** Whether the metric has any point at all (so NO_DATA differs from a gap around this period). */
  hasPoints: boolean;
  start: OutcomePoint | null;
  end: OutcomePoint | null;
};

export type CostPerOutcome = {
  cost: string;
  start: OutcomePoint | null;
  end: OutcomePoint | null;
  delta: string | null;
  improvement: string | null;
  ratio: string | null;
  reason: OutcomeReason | null;
};

export const RATIO_SCALE = MONEY_SCALE;

export function costPerOutcome(input: CostPerOutcomeInput): CostPerOutcome {
  const base = { cost: toMoney(input.cost), start: input.start, end: input.end };
  const fail = (reason: OutcomeReason, delta: string | null = null, improvement: string | null = null): CostPerOutcome =>
    ({ ...base, delta, improvement, ratio: null, reason });
  if (!input.hasPoints) return fail('NO_DATA');
  if (!input.start) return fail('MISSING_START');
  if (!input.end) return fail('MISSING_END');
  const delta = subtract(input.end.value, input.start.value);
  const improvement = input.direction === 'decrease' ? negate(delta) : delta;
  const [d, i] = [formatDecimal(delta), formatDecimal(improvement)];
  const sign = compare(improvement, '0');
  if (sign === 0) return fail('ZERO_DELTA', d, i);
  if (sign < 0) return fail('NEGATIVE_DELTA', d, i);
  return { ...base, delta: d, improvement: i, ratio: formatDecimal(divide(parseDecimal(input.cost), improvement, RATIO_SCALE)), reason: null };
}

/** a ÷ b at `scale` decimals, rounded half to even; b must not be zero. */
export function divide(a: Decimal, b: Decimal, scale: number): Decimal {
  if (b.units === 0n) throw new RangeError('division by zero');
  // a/b = (a.units / 10^a.scale) / (b.units / 10^b.scale); scale the numerator so the quotient has `scale` decimals.
  const shift = scale + b.scale - a.scale;
  let num = a.units;
  let den = b.units;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  if (den < 0n) [num, den] = [-num, -den];
  return { units: divRoundHalfEven(num, den), scale };
}

function subtract(a: string, b: string): Decimal {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  return { units: rescale(x, scale).units - rescale(y, scale).units, scale };
}

function negate(d: Decimal): Decimal {
  return { units: -d.units, scale: d.scale };
}

function divRoundHalfEven(n: bigint, divisor: bigint): bigint {
  const q = n / divisor;
  const r = n % divisor;
  const twice = 2n * (r < 0n ? -r : r);
  if (twice < divisor || (twice === divisor && q % 2n === 0n)) return q;
  return n < 0n ? q - 1n : q + 1n;
}
