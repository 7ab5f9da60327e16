import { el } from './dom.js';
import { money } from './format.js';
import type { ShadowSpend } from './types.js';

/**
 * The month's shadow spend: per provider, model and API key, what the provider reports beside what tollgate
 * metered. A key that is not tollgate's is spend that bypassed the gateway; on tollgate's own key a
 * difference is metering error or report lag.
 */
export function shadowTable(report: ShadowSpend): HTMLElement {
  if (report.coveredDays.length === 0) {
    return el('p', { class: 'empty-state' }, 'No provider reports for this month yet (tollgate reconcile run, or the daily schedule).');
  }
  const rows = report.rows.filter((r) => Number(r.reported) !== 0 || Number(r.metered) !== 0);
  const body = rows.map((r) => el('tr', { 'data-key': `${r.key.provider}:${r.key.model}:${r.key.apiKeyId ?? ''}`, 'data-difference': r.difference },
    el('th', { scope: 'row' }, r.key.model ?? '—', el('span', { class: 'muted' }, ` ${r.key.provider ?? ''}`)),
    el('td', {}, r.key.apiKeyId ?? 'all keys', ...(r.tollgateKey === true ? [' ', el('span', { class: 'badge tier ok' }, 'tollgate')] : [])),
    el('td', { class: 'num' }, money(r.reported, report.currency)),
    el('td', { class: 'num' }, money(r.metered, report.currency)),
    el('td', { class: `num ${Number(r.difference) === 0 ? 'muted' : 'shadow'}` }, money(r.difference, report.currency))));
  const t = report.totals;
  return el('div', {},
    el('table', { class: 'data', 'data-rows': rows.length },
      el('thead', {}, el('tr', {}, ...['Model', 'API key', 'Reported', 'Metered', 'Difference'].map((h, i) => el('th', { scope: 'col', class: i >= 2 ? 'num' : undefined }, h)))),
      el('tbody', {}, ...body),
      el('tfoot', {}, el('tr', {}, el('th', { scope: 'row', colspan: 2 }, 'Total'),
        el('td', { class: 'num' }, money(t.reported, report.currency)), el('td', { class: 'num' }, money(t.metered, report.currency)),
        el('td', { class: 'num', id: 'shadow-total' }, money(t.difference, report.currency))))),
    el('p', { class: 'muted small' },
      `Bypassed the gateway (other keys): ${money(t.bypass, report.currency)} · on tollgate's keys: ${money(t.meteringGap, report.currency)} · `
      + `${report.coveredDays.length} provider-days reconciled`),
    ...report.notices.map((n) => el('p', { class: 'small', 'data-notice': `${n.provider}:${n.day}` },
      `Sent to finance: ${n.provider} ${n.day}, difference ${money(n.difference, report.currency)} (${n.delivery?.status ?? 'queued'})`)));
}
