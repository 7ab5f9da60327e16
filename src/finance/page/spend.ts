import { el } from '../../council/page/dom.js';
import { money, percent } from '../../council/page/format.js';
import { scale, shortMoney, svg, ticks, tint, titled } from './svg.js';
import type { Spend } from './types.js';

/**
 * Spend per UTC day of the month, one stacked bar per day: a segment per use case, the use cases of a BU in
 * shades of the BU's color, the BUs in a fixed order (largest spend at the bottom). A legend below gives each
 * use case's month total and share.
 */

export type Names = { useCase(id: string): string; bu(id: string): string; color(bu: string): string };

const W = 1080;
const H = 260;
const PAD = { left: 56, right: 8, top: 10, bottom: 26 };

export function spendChart(report: Spend, names: Names): HTMLElement {
  if (report.rows.length === 0) return el('p', { class: 'empty-state' }, 'No spend recorded for this month.');
  const days = monthDays(report.from, report.to);
  const series = shadeSeries(seriesOf(report), names.color);
  const byDay = new Map<string, number>();
  for (const r of report.rows) byDay.set(r.key.day, (byDay.get(r.key.day) ?? 0) + Number(r.cost));
  const top = Math.max(...byDay.values());
  const yTicks = ticks(top);
  const x = scale(0, days.length, PAD.left, W - PAD.right);
  const y = scale(0, yTicks.at(-1)!, H - PAD.bottom, PAD.top);
  const band = (W - PAD.left - PAD.right) / days.length;
  const today = new Date().toISOString().slice(0, 10);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spend-chart', role: 'img', 'aria-label': `Spend per day, ${days.length} days` });
  for (const t of yTicks) {
    chart.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t), class: 'grid' }));
    chart.append(svg('text', { x: PAD.left - 8, y: y(t) + 4, class: 'axis', 'text-anchor': 'end' }, shortMoney(t)));
  }
  days.forEach((day, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.byDay.get(day) ?? 0;
      if (v <= 0) continue;
      const rect = svg('rect', { x: x(i) + band * 0.14, width: band * 0.72, y: y(base + v), height: Math.max(0.5, y(base) - y(base + v)), fill: s.color, 'data-use-case': s.useCase });
      chart.append(titled(rect, `${day} · ${names.useCase(s.useCase)} (${names.bu(s.bu)}): ${money(v, report.currency)}`));
      base += v;
    }
    if (day === today) {
      chart.append(svg('line', { x1: x(i + 1), x2: x(i + 1), y1: PAD.top, y2: H - PAD.bottom, class: 'today' }));
      chart.append(svg('text', { x: x(i + 1) + 4, y: PAD.top + 10, class: 'axis today-label' }, 'today'));
    }
    const dom = Number(day.slice(8));
    if (dom === 1 || dom % 5 === 0) chart.append(svg('text', { x: x(i) + band / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, String(dom)));
  });
  const total = Number(report.totals.cost);
  const legend = el('ul', { class: 'spend-legend' }, ...series.map((s) => {
    const swatch = el('span', { class: 'swatch square', 'aria-hidden': 'true' });
    swatch.style.backgroundColor = s.color;
    return el('li', { 'data-use-case': s.useCase }, swatch,
      el('span', { class: 'name' }, names.useCase(s.useCase), el('span', { class: 'muted' }, ` ${names.bu(s.bu)}`)),
      el('span', { class: 'num' }, money(s.total, report.currency)),
      el('span', { class: 'num muted' }, percent(total > 0 ? s.total / total : 0, 0)));
  }));
  const figure = el('figure', { class: 'spend', 'data-days': days.length, 'data-series': series.length });
  figure.append(chart, legend);
  return figure;
}

type Series = { useCase: string; bu: string; color: string; total: number; byDay: Map<string, number> };

function seriesOf(report: Spend): Series[] {
  const map = new Map<string, Series>();
  for (const r of report.rows) {
    const s = map.get(r.key.useCase) ?? { useCase: r.key.useCase, bu: r.key.bu, color: '', total: 0, byDay: new Map<string, number>() };
    s.total += Number(r.cost);
    s.byDay.set(r.key.day, (s.byDay.get(r.key.day) ?? 0) + Number(r.cost));
    map.set(r.key.useCase, s);
  }
  const buTotals = new Map<string, number>();
  for (const s of map.values()) buTotals.set(s.bu, (buTotals.get(s.bu) ?? 0) + s.total);
  const ordered = [...map.values()].sort((a, b) => buTotals.get(b.bu)! - buTotals.get(a.bu)! || a.bu.localeCompare(b.bu) || b.total - a.total);
  return ordered;
}

/** Shades each series: the first use case of a BU in its color, the next ones lighter. */
export function shadeSeries<T extends { bu: string; color: string }>(series: T[], color: (bu: string) => string): T[] {
  const seen = new Map<string, number>();
  for (const s of series) {
    const k = seen.get(s.bu) ?? 0;
    seen.set(s.bu, k + 1);
    s.color = tint(color(s.bu), Math.min(0.7, k * 0.28));
  }
  return series;
}

/** Every UTC day of [from, to) as YYYY-MM-DD. */
export function monthDays(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(from); t < Date.parse(to); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}
