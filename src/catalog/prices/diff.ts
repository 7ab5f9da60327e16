import { compare, parseDecimal, rescale } from '../../metering/money.js';
import type { PriceRow } from '../../metering/pricing.js';
import { PRICE_KINDS, type PriceInput, type PriceKind } from './types.js';

/**
 * What an import would change, pure: each price against the row in force for its model and tier at the time it
 * would take effect. New (no price yet), changed (with each kind's move in %), unchanged (nothing written: a
 * second import of the same file changes nothing), or refused: a later price exists (history is appended to,
 * never rewritten), or a different price already starts at that very time.
 */

export type Move = { kind: PriceKind; from: string | null; to: string | null; percent: string | null };
export type DiffLine =
  | { status: 'new'; price: PriceInput; effectiveFrom: string }
  | { status: 'changed'; price: PriceInput; effectiveFrom: string; previous: PriceRow; moves: Move[] }
  | { status: 'unchanged'; price: PriceInput; effectiveFrom: string; previous: PriceRow }
  | { status: 'refused'; price: PriceInput; effectiveFrom: string; reason: string };

/** Every version of one model and tier, oldest first. */
export type History = (modelId: string, tier: string) => readonly PriceRow[];

export function diffPrices(prices: readonly PriceInput[], history: History, defaultFrom: Date): DiffLine[] {
  return prices.map((price) => {
    const effectiveFrom = price.effective_from ?? defaultFrom.toISOString();
    const at = Date.parse(effectiveFrom);
    const versions = history(price.model_id, price.service_tier);
    const later = versions.find((v) => epoch(v.effective_from) > at);
    const previous = [...versions].reverse().find((v) => epoch(v.effective_from) <= at);
    if (!previous) {
      return later
        ? { status: 'refused', price, effectiveFrom, reason: `a later price (from ${iso(later.effective_from)}) exists; prices are appended, never inserted before one` }
        : { status: 'new', price, effectiveFrom };
    }
    const moves = movesOf(previous, price);
    if (moves.length === 0) return { status: 'unchanged', price, effectiveFrom, previous };
    if (later) return { status: 'refused', price, effectiveFrom, reason: `a later price (from ${iso(later.effective_from)}) exists; prices are appended, never inserted before one` };
    if (epoch(previous.effective_from) === at) return { status: 'refused', price, effectiveFrom, reason: `another price already starts at ${effectiveFrom}; history is never edited` };
    return { status: 'changed', price, effectiveFrom, previous, moves };
  });
}

function movesOf(previous: PriceRow, next: PriceInput): Move[] {
  const moves: Move[] = PRICE_KINDS.map((kind) => ({ kind, from: previous[kind] ?? null, to: next[kind] ?? null }))
    .filter(({ from, to }) => (from === null || to === null ? from !== to : compare(from, to) !== 0))
    .map((m) => ({ ...m, percent: percentMove(m.from, m.to) }));
  if (previous.currency !== next.currency) moves.push({ kind: 'input_per_mtok', from: previous.currency, to: next.currency, percent: null });
  return moves;
}

/** (to − from) ÷ from × 100, one decimal, half-even; null when there is no base to compare with. */
export function percentMove(from: string | null, to: string | null): string | null {
  if (from === null || to === null || compare(from, '0') === 0) return null;
  const scale = Math.max(parseDecimal(from).scale, parseDecimal(to).scale);
  const f = rescale(from, scale).units;
  const t = rescale(to, scale).units;
  const q = divHalfEven((t - f) * 1000n, f);
  const sign = q < 0n ? '-' : '+';
  const abs = q < 0n ? -q : q;
  return `${sign}${abs / 10n}.${abs % 10n}`;
}

function divHalfEven(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n % d;
  const twice = 2n * (r < 0n ? -r : r);
  const ad = d < 0n ? -d : d;
  if (twice < ad || (twice === ad && q % 2n === 0n)) return q;
  return (n < 0n) !== (d < 0n) ? q - 1n : q + 1n;
}

function epoch(v: Date | string): number {
  return v instanceof Date ? v.getTime() : Date.parse(v);
}

function iso(v: Date | string): string {
  return new Date(epoch(v)).toISOString();
}
