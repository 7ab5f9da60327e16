import { el } from './dom.js';
import { fixed, pValue } from './format.js';
import type { Evidence } from './types.js';

/** The numbers behind the signals that fired, as a definition list (edges and alerts show the same). */
export function evidenceList(evidence: Evidence, name: (useCase: string) => string): HTMLElement {
  const rows: [string, (Node | string)[]][] = [];
  const { sharedTools, leadLag, classCoupling, interactions } = evidence;
  if (sharedTools) {
    const tools = sharedTools.tools.map((t) => el('code', { class: 'tool' }, t));
    rows.push(['Shared tools', [...tools, ` · overlap ${fixed(sharedTools.overlap)}`]]);
  }
  if (leadLag) {
    const lag = leadLag.lagDays === 1 ? '1 day' : `${leadLag.lagDays} days`;
    rows.push(['Lead-lag', [
      el('span', { class: 'lead' }, name(leadLag.leader), ' → ', name(leadLag.follower)),
      ` · lag ${lag} · r = ${fixed(leadLag.r)} · p = ${pValue(leadLag.p)}`,
    ]]);
  }
  if (classCoupling) rows.push(['Class coupling', [`${classCoupling.classes[0]} ↔ ${classCoupling.classes[1]} · ${fixed(classCoupling.weight)}`]]);
  if (interactions) rows.push(['Interactions', [`${interactions.sessions} sessions · ${interactions.calls} calls · ${fixed(interactions.weight)}`]]);
  if (rows.length === 0) return el('p', { class: 'muted' }, 'No evidence recorded.');
  return el('dl', { class: 'evidence' }, ...rows.flatMap(([term, detail]) => [el('dt', {}, term), el('dd', {}, ...detail)]));
}
