import { el } from './dom.js';
import { fixed, pValue } from './format.js';
import type { Evidence } from './types.js';

/**
 * The numbers behind the signals, as a definition list (edges and alerts show the same). A lead-lag that did
 * not pass its significance test is recorded with its r and p but weighs nothing: it is marked so, lest a
 * high r read as evidence beside a lead-lag weight of 0.
 */
export function evidenceList(evidence: Evidence, name: (useCase: string) => string): HTMLElement {
  const rows: [string, (Node | string)[], Record<string, string>?][] = [];
  const { sharedTools, leadLag, classCoupling, interactions } = evidence;
  if (sharedTools) {
    const tools = sharedTools.tools.map((t) => el('code', { class: 'tool' }, t));
    rows.push(['Shared tools', [...tools, ` · overlap ${fixed(sharedTools.overlap)}`]]);
  }
  if (leadLag) {
    const lag = leadLag.lagDays === 1 ? '1 day' : `${leadLag.lagDays} days`;
    const counted = leadLag.significant === true;
    const numbers: (Node | string)[] = [
      el('span', { class: 'lead' }, name(leadLag.leader), ' → ', name(leadLag.follower)),
      ` · lag ${lag} · r = ${fixed(leadLag.r)} · p = ${pValue(leadLag.p)}`,
    ];
    const detail = counted ? numbers
      : [el('span', { class: 'badge not-significant' }, 'not significant'), ...numbers, el('span', { class: 'muted' }, ' · not counted in the weight')];
    rows.push(['Lead-lag', detail, { 'data-signal': 'lead-lag', 'data-significant': String(counted) }]);
  }
  if (classCoupling) rows.push(['Class coupling', [`${classCoupling.classes[0]} ↔ ${classCoupling.classes[1]} · ${fixed(classCoupling.weight)}`]]);
  if (interactions) rows.push(['Interactions', [`${interactions.sessions} sessions · ${interactions.calls} calls · ${fixed(interactions.weight)}`]]);
  if (rows.length === 0) return el('p', { class: 'muted' }, 'No evidence recorded.');
  return el('dl', { class: 'evidence' }, ...rows.flatMap(([term, detail, attrs]) => [el('dt', {}, term), el('dd', attrs ?? {}, ...detail)]));
}
