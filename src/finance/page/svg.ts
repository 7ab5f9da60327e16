/**
 * SVG built with DOM calls (never markup strings), as the page's HTML is: shapes, axes and scales for the
 * charts. Hover text is an SVG <title>, which browsers show natively.
 */

const NS = 'http://www.w3.org/2000/svg';

export type Attrs = Record<string, string | number | null | undefined>;

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  for (const c of children) if (c !== null) node.append(c);
  return node;
}

export function titled<T extends SVGElement>(node: T, text: string): T {
  node.append(svg('title', {}, text));
  return node;
}

/** A linear scale from [d0, d1] to [r0, r1]. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** About `count` round ticks from 0 to past `max` (1, 2 or 5 times a power of ten apart). */
export function ticks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => i * step);
}

/** Compact money for axes: $0, $0.05, $2.5, $850, $1.2k, $3.4M. */
export function shortMoney(v: number): string {
  if (v >= 1e6) return `$${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`;
  if (v >= 1e3) return `$${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`;
  if (v === 0 || v >= 10) return `$${v.toFixed(0)}`;
  return `$${v.toFixed(v < 1 ? 2 : 1)}`;
}

/** Compact counts for token axes: 850, 1.2k, 3.4M. */
export function shortCount(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(1)}B`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)}k`;
  return String(Math.round(v));
}

/** A color mixed with white: `amount` 0 keeps it, 1 is white. */
export function tint(hex: string, amount: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  const mix = (h: string) => Math.round(parseInt(h, 16) + (255 - parseInt(h, 16)) * amount);
  return `rgb(${mix(m[1]!)}, ${mix(m[2]!)}, ${mix(m[3]!)})`;
}

/** The points of a polyline, rounded to a tenth of a pixel. */
export function points(xy: [number, number][]): string {
  return xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
}
