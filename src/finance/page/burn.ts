import { el } from '../../council/page/dom.js';
import { count, label, money, percent } from '../../council/page/format.js';
import { points, scale, shortCount, shortMoney, svg, ticks, titled } from './svg.js';
import type { Budget, Spend, Tier } from './types.js';

/**
 * One burn-down per use-case and BU budget of the month: spend so far, day by day, against the limit; the
 * tier lines (where notice, warning, soft cap and hard cap start); and, while the period is open, the forecast
 * to its end at the current rate (the API's projection), dashed.
 */

const W = 340;
const H = 170;
const PAD = { left: 46, right: 38, top: 12, bottom: 22 };
const TIER_COLORS: Partial<Record<Tier, string>> = { NOTICE: '#2563eb', WARNING: '#d97706', SOFT_CAP: '#ea580c', HARD_CAP: '#b91c1c' };
const TIER_NAMES: Partial<Record<Tier, string>> = { NOTICE: 'notice', WARNING: 'warning', SOFT_CAP: 'soft cap', HARD_CAP: 'hard cap' };
const ORDER: Record<Tier, number> = { HARD_CAP: 0, SOFT_CAP: 1, WARNING: 2, NOTICE: 3, OK: 4, NONE: 5, UNKNOWN: 6 };

export type BurnNames = { useCase(id: string): string; bu(id: string): string };

/** Budgets with a limit over a month, worst tier first; others (weekly, daily, agent, session) are left to the list. */
export function burnDowns(budgets: Budget[], spend: Spend, names: BurnNames, now: Date): HTMLElement {
  const shown = budgets.filter((b) => (b.scope === 'USE_CASE' || b.scope === 'BU') && b.period === 'MONTH' && b.limit !== null)
    .sort((a, b) => ORDER[worst(a)] - ORDER[worst(b)] || Number(b.ratio ?? 0) - Number(a.ratio ?? 0));
  if (shown.length === 0) return el('p', { class: 'empty-state' }, 'No monthly use-case or BU budgets.');
  const grid = el('div', { class: 'burns', 'data-count': shown.length });
  grid.append(...shown.map((b) => burnDown(b, dailySpend(b, spend), names, now)));
  return grid;
}

function worst(b: Budget): Tier {
  const projected = b.forecast?.projectedTier ?? 'NONE';
  return ORDER[projected] < ORDER[b.tier] ? projected : b.tier;
}

/** The budget's spend per day of its period, in its unit, from the chargeback by day, BU and use case. */
function dailySpend(b: Budget, spend: Spend): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of spend.rows) {
    if (b.scope === 'USE_CASE' ? r.key.useCase !== b.scopeId : r.key.bu !== b.scopeId) continue;
    const v = b.unit === 'TOKENS'
      ? Number(r.inputTokens) + Number(r.cachedInputTokens) + Number(r.cacheWriteTokens) + Number(r.outputTokens)
      : Number(r.cost);
    out.set(r.key.day, (out.get(r.key.day) ?? 0) + v);
  }
  return out;
}

function burnDown(b: Budget, perDay: Map<string, number>, names: BurnNames, now: Date): HTMLElement {
  const start = Date.parse(b.periodStart);
  const end = Date.parse(b.periodEnd);
  const days = Math.round((end - start) / 86_400_000);
  const limit = Number(b.limit);
  const fmt = (v: number) => (b.unit === 'TOKENS' ? `${count(Math.round(v))} tokens` : money(v, b.currency ?? 'USD'));
  const axis = b.unit === 'TOKENS' ? shortCount : shortMoney;

  const cumulative: [number, number][] = [[0, 0]];
  let total = 0;
  const open = now.getTime() < end;
  const lastDay = open ? Math.min(days, Math.ceil((now.getTime() - start) / 86_400_000)) : days;
  for (let d = 0; d < lastDay; d++) {
    total += perDay.get(new Date(start + d * 86_400_000).toISOString().slice(0, 10)) ?? 0;
    cumulative.push([d + 1, total]);
  }
  const forecast = open && b.forecast?.method === 'LINEAR' && b.forecast.projectedSpend !== null ? Number(b.forecast.projectedSpend) : null;
  const hardCap = Number(b.tierLines.at(-1)?.ratio ?? 1) * limit;
  // The scale shows the limit and its tiers first: a forecast far past the hard cap runs off the top, labelled.
  const yMax = ticks(Math.max(hardCap * 1.2, total * 1.05), 3).at(-1)!;
  const x = scale(0, days, PAD.left, W - PAD.right);
  const y = scale(0, yMax, H - PAD.bottom, PAD.top);

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'burn-chart', role: 'img', 'aria-label': `Spend against the limit of ${fmt(limit)}` });
  for (const t of ticks(yMax, 3)) {
    chart.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t), class: 'grid' }));
    chart.append(svg('text', { x: PAD.left - 6, y: y(t) + 4, class: 'axis', 'text-anchor': 'end' }, axis(t)));
  }
  let labelY = Infinity;
  for (const line of b.tierLines) {
    const v = Number(line.ratio) * limit;
    const color = TIER_COLORS[line.tier] ?? '#64748b';
    chart.append(titled(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), stroke: color, class: `tier-line ${line.tier.toLowerCase()}`, 'data-tier': line.tier }), `${TIER_NAMES[line.tier]} from ${percent(line.ratio)}: ${fmt(v)}`));
    // Lines are lowest first: a label that would touch the one below moves up.
    labelY = Math.min(y(v) + 3, labelY - 10);
    chart.append(titled(svg('text', { x: W - PAD.right + 4, y: labelY, class: 'tier-label', fill: color }, percent(line.ratio)), TIER_NAMES[line.tier] ?? ''));
  }
  const path = cumulative.map(([d, v]) => [x(d), y(v)] as [number, number]);
  chart.append(svg('polygon', { points: points([...path, [x(lastDay), y(0)], [x(0), y(0)]]), class: 'burn-area' }));
  chart.append(svg('polyline', { points: points(path), class: 'burn-line', 'data-days': lastDay }));
  if (forecast !== null) chart.append(...forecastLine((now.getTime() - start) / 86_400_000, total, days, forecast, yMax, x, y, fmt(forecast), percent(b.forecast?.projectedRatio)));
  chart.append(svg('circle', { cx: x(lastDay), cy: y(total), r: 3.5, class: 'burn-dot' }));
  chart.append(svg('text', { x: PAD.left, y: H - 6, class: 'axis' }, new Date(start).toISOString().slice(5, 10)));
  chart.append(svg('text', { x: W - PAD.right, y: H - 6, class: 'axis', 'text-anchor': 'end' }, new Date(end - 1).toISOString().slice(5, 10)));

  const title = b.scope === 'USE_CASE' ? names.useCase(b.scopeId) : `${names.bu(b.scopeId)} (BU)`;
  const tier = el('span', { class: `badge tier ${b.tier.toLowerCase().replace('_', '-')}` }, label(b.tier));
  return el('article', { class: 'burn', 'data-budget': `${b.scope}:${b.scopeId}`, 'data-tier': b.tier, 'data-forecast': forecast === null ? 'none' : 'linear' },
    el('header', {}, el('h3', {}, title), tier),
    el('p', { class: 'burn-figures' }, el('strong', {}, fmt(Number(b.spent ?? 0))), ` of ${fmt(limit)} · ${percent(b.ratio)}`),
    chart,
    el('p', { class: 'muted small' }, forecastText(b, forecast, fmt)));
}

/** The forecast from now to the period's end, dashed; cut at the top of the chart (with the figure) when it runs off. */
function forecastLine(from: number, total: number, days: number, forecast: number, yMax: number, x: (d: number) => number, y: (v: number) => number, text: string, ratio: string): SVGElement[] {
  const off = forecast > yMax;
  const endDay = off ? from + ((yMax - total) / (forecast - total)) * (days - from) : days;
  const endValue = off ? yMax : forecast;
  const line = titled(svg('line', { x1: x(from), y1: y(total), x2: x(endDay), y2: y(endValue), class: 'forecast-line', 'data-projected': forecast.toFixed(2) }), `forecast at the period's end: ${text}`);
  const mark = off
    ? svg('text', { x: Math.min(x(endDay) + 4, x(days) - 2), y: y(yMax) + 10, class: 'forecast-label', 'text-anchor': x(endDay) + 40 > x(days) ? 'end' : 'start' }, `↑ ${ratio}`)
    : svg('circle', { cx: x(days), cy: y(forecast), r: 3, class: 'forecast-dot' });
  return [line, mark];
}

function forecastText(b: Budget, forecast: number | null, fmt: (v: number) => string): string {
  if (forecast === null) return b.forecast?.method === 'TOO_EARLY' ? 'Too early in the period for a forecast.' : 'Period closed: the line is the actual spend.';
  const cap = b.forecast?.exhaustsAt ? ` · hard cap reached ${new Date(b.forecast.exhaustsAt).toISOString().slice(5, 10)}` : '';
  return `Forecast ${fmt(forecast)} at the period's end (${percent(b.forecast?.projectedRatio)}, ${label(b.forecast?.projectedTier ?? 'NONE').toLowerCase()})${cap}`;
}
