/**
 * Exact decimal arithmetic for money: a value is an integer count of 10^-scale units (BigInt), so sums
 * and token × price products are exact. A library (decimal.js, big.js) would bring configurable global
 * precision and float-like APIs; the ledger needs four operations at a fixed scale, which BigInt does
 * exactly in a few lines.
 *
 * Scale: the ledger stores money as numeric(24,12) (MONEY_SCALE). Prices have at most 8 decimals, so a
 * cost (tokens × price / 10^6) has at most 14; it is computed exactly and rounded once, half-even, to
 * 12 decimals when it becomes a money string. That only rounds anything for prices with more than 6
 * decimals per million tokens, and then by less than 5e-13 per call. Rounding before the row is written
 * (instead of letting Postgres round half-away-from-zero on insert) keeps the journaled cost, the ledger
 * row and every in-memory sum identical.
 */

/** An exact decimal: value = units / 10^scale. */
export type Decimal = { readonly units: bigint; readonly scale: number };
export type DecimalInput = Decimal | string;

/** Decimals of money in the ledger (usage_events.cost, use_case_spend.cost are numeric(24,12)). */
export const MONEY_SCALE = 12;
export const ZERO_MONEY = '0.000000000000';

/** A sign, then digits with at most one point among them, at least one digit in all (the lookahead). */
const DECIMAL_TEXT = /^([+-]?)(?=\.?\d)(\d*)(?:\.(\d*))?$/;
const TOKENS_PER_PRICE_UNIT = 6; // prices are per million tokens

export function parseDecimal(text: string): Decimal {
  const m = DECIMAL_TEXT.exec(text.trim());
  const [, sign = '', whole = '', frac = ''] = m ?? [];
  if (!m) throw new TypeError(`not a decimal number: ${JSON.stringify(text)}`);
  const units = BigInt(whole + frac);
  return { units: sign === '-' ? -units : units, scale: frac.length };
}

/** Exactly d.scale decimals, like Postgres prints a numeric(p, scale). */
export function formatDecimal(d: Decimal): string {
  const digits = (d.units < 0n ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const sign = d.units < 0n ? '-' : '';
  if (d.scale === 0) return sign + digits;
  return `${sign}${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
}

/** The same value at another scale; reducing the scale rounds half to even. */
export function rescale(x: DecimalInput, scale: number): Decimal {
  const d = toDecimal(x);
  if (scale >= d.scale) return { units: d.units * 10n ** BigInt(scale - d.scale), scale };
  return { units: divRoundHalfEven(d.units, 10n ** BigInt(d.scale - scale)), scale };
}

export function add(a: DecimalInput, b: DecimalInput): Decimal {
  const [x, y] = aligned(a, b);
  return { units: x.units + y.units, scale: x.scale };
}

export function sum(values: Iterable<DecimalInput>): Decimal {
  let total: Decimal = { units: 0n, scale: 0 };
  for (const v of values) total = add(total, v);
  return total;
}

/** tokens × pricePerMillion / 10^6, exactly (the scale grows by 6 instead of rounding). */
export function costPerMillion(tokens: number, pricePerMillion: DecimalInput): Decimal {
  if (!Number.isSafeInteger(tokens)) throw new RangeError(`token count is not a safe integer: ${tokens}`);
  const price = toDecimal(pricePerMillion);
  return { units: BigInt(tokens) * price.units, scale: price.scale + TOKENS_PER_PRICE_UNIT };
}

export function compare(a: DecimalInput, b: DecimalInput): -1 | 0 | 1 {
  const [x, y] = aligned(a, b);
  return x.units < y.units ? -1 : x.units > y.units ? 1 : 0;
}

/** A float approximation, for ratios only (the policy's budget percentage); never store it. */
export function toNumber(x: DecimalInput): number {
  // Decimal text is read as it is (the same number formatDecimal's text would give), once it is known to be one.
  if (typeof x === 'string') {
    const text = x.trim();
    if (DECIMAL_TEXT.test(text)) return Number(text);
  }
  return Number(formatDecimal(toDecimal(x)));
}

// Already what toMoney returns: MONEY_SCALE decimals, no leading zeros, no negative zero.
const MONEY_TEXT = /^(?!-0\.0{12}$)-?(?:0|[1-9]\d*)\.\d{12}$/;

/** The canonical money string: MONEY_SCALE decimals, rounded half-even if the value has more. */
export function toMoney(x: DecimalInput): string {
  // The metering writer passes every cost through here, and costOf already made most of them.
  if (typeof x === 'string' && MONEY_TEXT.test(x)) return x;
  return formatDecimal(rescale(x, MONEY_SCALE));
}

export function addMoney(a: DecimalInput, b: DecimalInput): string {
  return toMoney(add(a, b));
}

function toDecimal(x: DecimalInput): Decimal {
  return typeof x === 'string' ? parseDecimal(x) : x;
}

function aligned(a: DecimalInput, b: DecimalInput): [Decimal, Decimal] {
  const x = toDecimal(a);
  const y = toDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  return [rescale(x, scale), rescale(y, scale)];
}

function divRoundHalfEven(n: bigint, divisor: bigint): bigint {
  const q = n / divisor; // truncates toward zero
  const r = n % divisor;
  const twice = 2n * (r < 0n ? -r : r);
  if (twice < divisor || (twice === divisor && q % 2n === 0n)) return q;
  return n < 0n ? q - 1n : q + 1n;
}
