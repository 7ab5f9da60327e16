/** Colors: one per BU (stable: by sorted BU id), and an edge ramp from faint to alarming by weight. */

const BU_PALETTE = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#65a30d', '#dc2626', '#4f46e5', '#c2410c'];

export function buColors(bus: Iterable<string>): Map<string, string> {
  const sorted = [...new Set(bus)].sort();
  return new Map(sorted.map((bu, i) => [bu, BU_PALETTE[i % BU_PALETTE.length]!]));
}

// slate-300 → amber-500 → red-700
const RAMP: [number, number, number][] = [[203, 213, 225], [245, 158, 11], [185, 28, 28]];

/** The edge color for a weight in [0, 1]. */
export function weightColor(weight: number): string {
  const w = Math.min(1, Math.max(0, weight)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(w));
  const t = w - i;
  const [a, b] = [RAMP[i]!, RAMP[i + 1]!];
  const mix = (k: number) => Math.round(a[k]! + (b[k]! - a[k]!) * t);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}

export const FADED = '#e2e8f0';

/** A BU color washed out (mixed with 75% white), for nodes outside the focus. */
export function faded(color: string): string {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!hex) return FADED;
  const mix = (h: string) => Math.round(parseInt(h, 16) * 0.25 + 255 * 0.75);
  return `rgb(${mix(hex[1]!)}, ${mix(hex[2]!)}, ${mix(hex[3]!)})`;
}
export const HIGHLIGHT = '#0f172a';
