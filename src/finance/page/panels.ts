import { el } from '../../council/page/dom.js';
import { count, dateTime, label, money, percent } from '../../council/page/format.js';
import { points, scale, svg, titled } from './svg.js';
import type { Budget, CostPerOutcome, Denial, Downgrades, SessionSummary, Spend } from './types.js';

/** The smaller panels: the month at a glance, cost per outcome, downgrades, top sessions, denials. */

export type Names = { useCase(id: string): string; bu(id: string): string };

export function kpis(spend: Spend | null, budgets: Budget[] | null, downgrades: Downgrades | null): HTMLElement[] {
  const atRisk = budgets?.filter((b) => ['WARNING', 'SOFT_CAP', 'HARD_CAP'].includes(b.tier) || ['SOFT_CAP', 'HARD_CAP'].includes(b.forecast?.projectedTier ?? '')).length;
  const card = (name: string, value: string, note: string, kind = '') => el('div', { class: `kpi ${kind}`, 'data-kpi': name }, el('span', { class: 'kpi-label' }, name), el('strong', {}, value), el('span', { class: 'muted small' }, note));
  return [
    card('Spend', spend ? money(spend.totals.cost, spend.currency) : '—', spend ? calls(spend.totals.calls) : ''),
    card('Budgets at risk', atRisk === undefined ? '—' : String(atRisk), 'warning or worse, now or by the period\'s end', atRisk ? 'alert' : ''),
    card('Saved by downgrades', downgrades ? money(downgrades.saved, downgrades.currency) : '—', downgrades ? `${calls(downgrades.calls)} served a cheaper model` : '', 'good'),
    card('Denied calls', spend ? count(spend.denied.calls) : '—', 'refused by policy, never billed'),
  ];
}

/** Per use case with an outcome metric: its cost per outcome over the months, a sparkline and the latest figure. */
export function outcomesTable(months: string[], series: CostPerOutcome[][], names: Names): HTMLElement {
  const useCases = [...new Set(series.flat().map((c) => c.useCase))];
  const withData = useCases.filter((u) => series.some((m) => m.find((c) => c.useCase === u)?.ratio != null));
  if (withData.length === 0) return el('p', { class: 'empty-state' }, 'No outcome data for these months (tollgate outcome import, or POST /v1/outcomes).');
  const rows = withData.map((u) => {
    const values = series.map((m) => m.find((c) => c.useCase === u) ?? null);
    const last = values.at(-1);
    const prev = values.at(-2);
    const change = last?.ratio != null && prev?.ratio != null && Number(prev.ratio) !== 0 ? Number(last.ratio) / Number(prev.ratio) - 1 : null;
    const metric = values.find((v) => v?.metric)?.metric ?? '';
    return el('tr', { 'data-use-case': u },
      el('th', { scope: 'row' }, names.useCase(u), el('span', { class: 'muted small block' }, metric.replace(/_/g, ' '))),
      el('td', {}, sparkline(months, values.map((v) => (v?.ratio == null ? null : Number(v.ratio))))),
      el('td', { class: 'num' }, last?.ratio == null ? el('span', { class: 'muted small' }, label(last?.reason ?? 'NO_DATA')) : unitCost(Number(last.ratio))),
      el('td', { class: `num ${change === null ? '' : change <= 0 ? 'better' : 'worse'}` }, change === null ? '—' : `${change > 0 ? '▲' : '▼'} ${percent(Math.abs(change), 0)}`));
  });
  return el('table', { class: 'data outcomes', 'data-rows': rows.length },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Use case'), el('th', { scope: 'col' }, `${months[0]} → ${months.at(-1)}`),
      el('th', { scope: 'col', class: 'num' }, 'This month'), el('th', { scope: 'col', class: 'num' }, 'vs last'))),
    el('tbody', {}, ...rows));
}

function sparkline(months: string[], values: (number | null)[]): SVGElement {
  const W = 150, H = 34;
  const present = values.filter((v): v is number => v !== null);
  const x = scale(0, Math.max(1, values.length - 1), 4, W - 4);
  const y = scale(Math.min(...present), Math.max(...present), H - 5, 5);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark', role: 'img', 'aria-label': 'cost per outcome by month' });
  const runs: [number, number][][] = [[]];
  values.forEach((v, i) => (v === null ? runs.push([]) : runs.at(-1)!.push([x(i), y(v)])));
  for (const run of runs.filter((r) => r.length > 1)) chart.append(svg('polyline', { points: points(run), class: 'spark-line' }));
  values.forEach((v, i) => {
    if (v !== null) chart.append(titled(svg('circle', { cx: x(i), cy: y(v), r: i === values.length - 1 ? 3 : 2, class: 'spark-dot' }), `${months[i]}: ${unitCost(v)}`));
  });
  return chart;
}

export function downgradesPanel(d: Downgrades, names: Names): HTMLElement {
  if (d.rows.length === 0) return el('p', { class: 'empty-state' }, 'No call was downgraded this month.');
  const most = Math.max(...d.rows.map((r) => Number(r.saved ?? 0)), 0);
  const summary = el('p', { class: 'headline' }, el('strong', { class: 'saved' }, money(d.saved, d.currency)), ' saved: ',
    `${calls(d.calls)} billed ${money(d.billed, d.currency)} instead of ${money(d.atRequestedPrice, d.currency)} at the models asked for.`,
    Number(d.unpricedCalls) > 0 ? ` ${count(d.unpricedCalls)} more had no price to compare.` : '');
  const rows = d.rows.map((r) => el('tr', { 'data-row': `${r.useCase}:${r.modelRequested}` },
    el('th', { scope: 'row' }, names.useCase(r.useCase), el('span', { class: 'muted small block' }, `${r.modelRequested} → ${r.modelServed}`)),
    el('td', { class: 'num' }, count(r.calls)),
    el('td', { class: 'num' }, el('span', { class: 'share' }, bar(Number(r.saved ?? 0), most, 'good'), r.saved === null ? '—' : money(r.saved, d.currency)))));
  return el('div', {}, summary, el('table', { class: 'data', 'data-rows': rows.length },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Use case · requested → served'), el('th', { scope: 'col', class: 'num' }, 'Calls'), el('th', { scope: 'col', class: 'num' }, 'Saved'))),
    el('tbody', {}, ...rows)));
}

export function sessionsTable(sessions: SessionSummary[], currency: string): HTMLElement {
  if (sessions.length === 0) return el('p', { class: 'empty-state' }, 'No sessions this month.');
  const most = Number(sessions[0]!.cost);
  const rows = sessions.map((s) => el('tr', { 'data-session': s.id },
    el('th', { scope: 'row' }, el('code', {}, s.id), el('span', { class: 'muted small block' }, `${dateTime(s.startedAt)} · ${duration(s.startedAt, s.endedAt)}`)),
    el('td', { class: 'num' }, count(s.calls)),
    el('td', { class: 'num' }, `${s.agents} / ${s.businessUnits}`),
    el('td', { class: 'num' }, el('span', { class: 'share' }, bar(Number(s.cost), most), money(s.cost, currency)))));
  return el('table', { class: 'data', 'data-rows': rows.length },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Session'), el('th', { scope: 'col', class: 'num' }, 'Calls'),
      el('th', { scope: 'col', class: 'num', title: 'agents / business units' }, 'Agents / BUs'), el('th', { scope: 'col', class: 'num' }, 'Cost'))),
    el('tbody', {}, ...rows));
}

export function denialsPanel(spend: Spend, latest: Denial[], names: Names): HTMLElement {
  if (Number(spend.denied.calls) === 0) return el('p', { class: 'empty-state' }, 'No call was denied this month.');
  const byCode = [...spend.denied.byCode].sort((a, b) => Number(b.calls) - Number(a.calls));
  const most = Number(byCode[0]?.calls ?? 0);
  const codes = el('ul', { class: 'codes', 'data-rows': byCode.length }, ...byCode.map((c) => el('li', { 'data-code': c.code },
    el('code', {}, c.code), el('span', { class: 'share' }, bar(Number(c.calls), most, 'warn'), count(c.calls)))));
  const rows = latest.map((d) => el('tr', {},
    el('td', { class: 'small' }, dateTime(d.ts)),
    el('td', {}, d.useCaseId ? names.useCase(d.useCaseId) : el('span', { class: 'muted' }, 'untagged'), d.agentId ? el('span', { class: 'muted small block' }, d.agentId) : null),
    el('td', {}, el('code', {}, d.code))));
  return el('div', { class: 'denials' },
    el('p', { class: 'headline' }, el('strong', {}, count(spend.denied.calls)), Number(spend.denied.calls) === 1 ? ' call refused this month' : ' calls refused this month'),
    codes,
    latest.length ? el('table', { class: 'data compact' }, el('caption', {}, 'Latest'), el('tbody', {}, ...rows)) : null);
}

const SMALL_MONEY = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 3 });

/** A cost of one unit of outcome: cents matter when it is small ($0.0412), not when it is large ($1,240.00). */
function unitCost(v: number): string {
  return v >= 100 ? money(v) : SMALL_MONEY.format(v);
}

function bar(value: number, max: number, kind = ''): HTMLElement {
  const b = el('span', { class: `bar ${kind}`, 'aria-hidden': 'true' }, el('span', {}));
  (b.firstElementChild as HTMLElement).style.width = `${max > 0 ? Math.max(2, (value / max) * 100).toFixed(1) : 0}%`;
  return b;
}

function calls(n: string | number): string {
  return Number(n) === 1 ? '1 call' : `${count(n)} calls`;
}

function duration(from: string, to: string): string {
  const s = Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
  return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}
