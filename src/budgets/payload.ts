import { formatDecimal, parseDecimal, rescale } from '../metering/money.js';

/**
 * The body of a tier notification: Slack-compatible (`text` + `blocks`, so an incoming-webhook URL works
 * as a target as is) with tollgate's structured fields beside them for receivers that are not Slack.
 * Pure: the outbox stores what this returns, so a retry sends the same bytes the first attempt did.
 */

export type Tier = 'notice' | 'warning' | 'soft_cap' | 'hard_cap';
export type Recipient = 'owner' | 'finance';
export type BudgetScope = 'use_case' | 'bu' | 'agent' | 'session';
export type BudgetPeriod = 'day' | 'week' | 'month' | 'quarter';

export const TIERS: readonly Tier[] = ['notice', 'warning', 'soft_cap', 'hard_cap'];

/** Who hears about a tier: the owner from the first tier up, finance from the warning up. */
export function recipientsFor(tier: Tier): Recipient[] {
  return TIERS.indexOf(tier) >= TIERS.indexOf('warning') ? ['owner', 'finance'] : ['owner'];
}

export type PayloadInput = {
  event_id: number;
  tier: Tier;
  recipient: Recipient;
  budget: {
    id: number;
    scope: BudgetScope;
    scope_id: string;
    unit: string;
    currency: string | null;
    limit: string;
    period: BudgetPeriod;
    period_start: string;
  };
  /** The session id for a session budget, '' otherwise. */
  key: string;
  spent: string;
  ratio: string;
  bu: { id: string; name: string } | null;
  use_case: { id: string; name: string } | null;
  request_id: string;
  /** ISO-8601 time of the call that crossed the tier. */
  at: string;
};

export type NotificationPayload = {
  text: string;
  blocks: object[];
  tollgate: {
    event_id: number;
    tier: Tier;
    budget: PayloadInput['budget'] & { key: string };
    spent: string;
    ratio: string;
    recipient: Recipient;
    bu: PayloadInput['bu'];
    use_case: PayloadInput['use_case'];
    request_id: string;
    at: string;
  };
};

const TIER_TEXT: Record<Tier, { emoji: string; title: string; meaning: string }> = {
  notice: { emoji: ':information_source:', title: 'Budget notice', meaning: '' },
  warning: { emoji: ':warning:', title: 'Budget warning', meaning: '' },
  soft_cap: { emoji: ':large_orange_circle:', title: 'Budget soft cap', meaning: 'Calls are now served by a cheaper model.' },
  hard_cap: { emoji: ':no_entry:', title: 'Budget hard cap', meaning: 'Calls are rejected until the budget is extended.' },
};

const PERIOD_ADJECTIVE: Record<BudgetPeriod, string> = { day: 'daily', week: 'weekly', month: 'monthly', quarter: 'quarterly' };

export function buildPayload(input: PayloadInput): NotificationPayload {
  const text = sentence(input);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: context(input) }] },
    ],
    tollgate: {
      event_id: input.event_id,
      tier: input.tier,
      budget: { ...input.budget, key: input.key },
      spent: input.spent,
      ratio: input.ratio,
      recipient: input.recipient,
      bu: input.bu,
      use_case: input.use_case,
      request_id: input.request_id,
      at: input.at,
    },
  };
}

function sentence(p: PayloadInput): string {
  const t = TIER_TEXT[p.tier];
  const limit = formatAmount(p.budget.limit, p.budget, false);
  const spent = formatAmount(p.spent, p.budget, true);
  const who = recipientsFor(p.tier).length > 1 ? 'Owner and finance notified.' : 'Owner notified.';
  const used = `has used ${percent(p.ratio)}% of its ${limit} ${PERIOD_ADJECTIVE[p.budget.period]} budget (${spent}).`;
  return [`${t.emoji} ${t.title} — ${subject(p)} ${used}`, t.meaning, who].filter(Boolean).join(' ');
}

function subject(p: PayloadInput): string {
  const bu = p.bu ? ` (${p.bu.id})` : '';
  switch (p.budget.scope) {
    case 'use_case': return `use case ${p.budget.scope_id}${bu}`;
    case 'bu': return `business unit ${p.budget.scope_id}`;
    case 'agent': return `agent ${p.budget.scope_id}${bu}`;
    case 'session': return `session ${p.key} of ${p.budget.scope_id}${bu}`;
  }
}

function context(p: PayloadInput): string {
  return `period from ${p.budget.period_start.slice(0, 10)} · budget ${p.budget.id} · request ${p.request_id} · to ${p.recipient}`;
}

/** floor(ratio × 100), exactly: 0.8299 is 82%, never 83%. */
export function percent(ratio: string): string {
  const d = parseDecimal(ratio);
  return ((d.units * 100n) / 10n ** BigInt(d.scale)).toString();
}

/** '2500' → '2,500 USD'; spend always with cents ('2,050.12 USD'); tokens as whole numbers (half-even). */
export function formatAmount(value: string, budget: { unit: string; currency: string | null }, cents: boolean): string {
  if (budget.unit === 'tokens') return `${group(formatDecimal(rescale(value, 0)))} tokens`;
  const fixed = formatDecimal(rescale(value, 2));
  const shown = !cents && fixed.endsWith('.00') ? fixed.slice(0, -3) : fixed;
  const [whole = '0', frac] = shown.split('.');
  return `${group(whole)}${frac === undefined ? '' : `.${frac}`} ${budget.currency ?? budget.unit.toUpperCase()}`;
}

function group(whole: string): string {
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
