import { formatAmount } from '../budgets/payload.js';
import type { AdjacencyAlert, PairEvidence } from './types.js';

/**
 * The council's webhook body for a new adjacency alert, in the tier notifications' style: Slack-compatible
 * (`text` + `blocks`) with tollgate's structured fields beside them. Pure: the outbox stores what this
 * returns, so a retry sends the same bytes.
 */

export type AlertPayloadInput = {
  alertId: number;
  key: string;
  period: string;
  runId: number;
  alert: AdjacencyAlert;
  /** Each side's exact spend, in `currency`. */
  spend: [string, string];
  currency: string;
  at: string;
};

export type AlertPayload = {
  text: string;
  blocks: object[];
  tollgate: {
    kind: 'adjacency_alert';
    alert_id: number;
    key: string;
    period: string;
    run_id: number;
    pair: [string, string];
    bus: [string, string];
    weight: number;
    signals: string[];
    evidence: PairEvidence;
    sides: { use_case: string; bu: string; spend: string; heavy: string[]; budget: number | null; budget_share: number | null }[];
    currency: string;
    recipient: 'council';
    at: string;
  };
};

export function buildAlertPayload(input: AlertPayloadInput): AlertPayload {
  const { alert } = input;
  const money = (v: string) => formatAmount(v, { unit: 'usd', currency: input.currency }, true);
  const [a, b] = alert.sides;
  const text = `:link: Adjacency alert — ${a.useCase} (${a.bu}) and ${b.useCase} (${b.bu}) move together in ${input.period} `
    + `(weight ${alert.weight.toFixed(2)}; spend ${money(input.spend[0])} and ${money(input.spend[1])}). Council notified.`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'section', text: { type: 'mrkdwn', text: reasons(alert.evidence).map((r) => `• ${r}`).join('\n') } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `alert ${input.alertId} · run ${input.runId} · ${input.key}` }] },
    ],
    tollgate: {
      kind: 'adjacency_alert', alert_id: input.alertId, key: input.key, period: input.period, run_id: input.runId,
      pair: alert.pair, bus: [a.bu, b.bu], weight: alert.weight, signals: alert.signals, evidence: alert.evidence,
      sides: alert.sides.map((s, i) => ({ use_case: s.useCase, bu: s.bu, spend: input.spend[i]!, heavy: s.heavy, budget: s.budget, budget_share: s.budgetShare })),
      currency: input.currency, recipient: 'council', at: input.at,
    },
  };
}

/** One readable line per signal that fired. */
export function reasons(e: PairEvidence): string[] {
  const out: string[] = [];
  if (e.leadLag?.significant) {
    const l = e.leadLag;
    out.push(`${l.leader}'s daily spend leads ${l.follower}'s by ${l.lagDays} day${l.lagDays === 1 ? '' : 's'} (r ${l.r.toFixed(2)}, p ${l.p ?? l.pFamily})`);
  }
  if (e.sharedTools) out.push(`both call ${e.sharedTools.tools.join(', ')} (overlap ${e.sharedTools.overlap.toFixed(2)})`);
  if (e.interactions) out.push(`${e.interactions.sessions} shared sessions and ${e.interactions.calls} agent-to-agent calls`);
  if (e.classCoupling) out.push(`the catalog couples ${e.classCoupling.classes.join(' and ')} (weight ${e.classCoupling.weight})`);
  return out;
}
