import { el } from './dom.js';
import { count, label, money, percent } from './format.js';
import type { Budget, Chargeback, ChargebackRow } from './types.js';

/** The month's spend by BU and use case (chargeback) and every budget the token may read, with its tier. */

export function spendTable(report: Chargeback): HTMLElement {
  if (report.rows.length === 0) return el('p', { class: 'empty-state' }, 'No spend recorded for this month.');
  const byBu = new Map<string, ChargebackRow[]>();
  for (const row of report.rows) {
    const bu = row.key.bu ?? '—';
    byBu.set(bu, [...(byBu.get(bu) ?? []), row]);
  }
  const groups = [...byBu].map(([bu, rows]) => ({ bu, rows: rows.sort((a, b) => Number(b.cost) - Number(a.cost)), cost: rows.reduce((s, r) => s + Number(r.cost), 0) }))
    .sort((a, b) => b.cost - a.cost);
  const total = Number(report.totals.cost);
  const body = groups.flatMap((g) => [
    el('tr', { class: 'group' },
      el('th', { scope: 'rowgroup', colspan: 2 }, g.rows[0]?.businessUnit?.name ?? g.bu),
      el('td', { class: 'num' }, money(g.cost, report.currency)),
      el('td', { class: 'num' }, percent(total > 0 ? g.cost / total : 0, 1))),
    ...g.rows.map((r) => el('tr', {},
      el('th', { scope: 'row', class: 'indent' }, r.useCase?.name ?? r.key.useCase ?? '—'),
      el('td', { class: 'num' }, count(r.calls)),
      el('td', { class: 'num' }, money(r.cost, report.currency)),
      el('td', { class: 'num' }, el('span', { class: 'share' }, shareBar(Number(r.share)), percent(r.share, 1))))),
  ]);
  return el('table', { class: 'data', 'data-rows': report.rows.length },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'BU / use case'), el('th', { scope: 'col', class: 'num' }, 'Calls'),
      el('th', { scope: 'col', class: 'num' }, 'Spend'), el('th', { scope: 'col', class: 'num' }, 'Share'))),
    el('tbody', {}, ...body),
    el('tfoot', {}, el('tr', {}, el('th', { scope: 'row' }, 'Total'), el('td', { class: 'num' }, count(report.totals.calls)),
      el('td', { class: 'num' }, money(report.totals.cost, report.currency)), el('td', { class: 'num' }, '100%'))));
}

export function budgetsTable(budgets: Budget[], names: (useCase: string) => string): HTMLElement {
  const shown = budgets.filter((b) => b.scope === 'USE_CASE' || b.scope === 'BU')
    .sort((a, b) => Number(b.ratio ?? -1) - Number(a.ratio ?? -1));
  if (shown.length === 0) return el('p', { class: 'empty-state' }, 'No use-case or BU budgets.');
  const rows = shown.map((b) => el('tr', { 'data-budget': `${b.scope}:${b.scopeId}`, 'data-tier': b.tier },
    el('th', { scope: 'row' }, b.scope === 'USE_CASE' ? names(b.scopeId) : b.scopeId, el('span', { class: 'muted' }, ` ${b.scope === 'BU' ? 'BU' : (b.bu ?? '')}`)),
    el('td', {}, label(b.period)),
    el('td', { class: 'num' }, amount(b, b.limit)),
    el('td', { class: 'num' }, amount(b, b.spent)),
    el('td', { class: 'num' }, el('span', { class: 'share' }, shareBar(Number(b.ratio ?? 0)), percent(b.ratio))),
    el('td', {}, el('span', { class: `badge tier ${b.tier.toLowerCase().replace('_', '-')}` }, label(b.tier)))));
  return el('table', { class: 'data' },
    el('thead', {}, el('tr', {}, ...['Budget', 'Period', 'Limit', 'Spent', 'Used', 'Tier'].map((h, i) => el('th', { scope: 'col', class: i >= 2 && i <= 4 ? 'num' : undefined }, h)))),
    el('tbody', {}, ...rows));
}

function amount(b: Budget, value: string | null): string {
  if (value === null) return '—';
  return b.unit === 'TOKENS' ? `${count(value)} tokens` : money(value, b.currency ?? 'USD');
}

function shareBar(ratio: number): HTMLElement {
  const bar = el('span', { class: 'bar', 'aria-hidden': 'true' }, el('span', {}));
  (bar.firstElementChild as HTMLElement).style.width = `${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%`;
  if (ratio >= 1) bar.classList.add('over');
  return bar;
}
