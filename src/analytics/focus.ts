import { add, costPerMillion, formatDecimal, parseDecimal, sum, toMoney, type Decimal } from '../metering/money.js';
import { divide } from './outcomes.js';

/**
 * The chargeback as a FinOps FOCUS (1.x) cost-and-usage file.
 *
 * Grain: one ledger group per UTC day × BU × use case × agent × provider × model requested × model served ×
 * price version × budget tier × policy revision × (correction or not), for one accounting period, split
 * into one row per token kind (input, cached input, cache write, output): each kind is its own SKU with its
 * own list price, as the providers bill them, so ListUnitPrice × PricingQuantity = ListCost holds on each row.
 * - BilledCost = EffectiveCost = ListCost: tollgate meters at list price, without commitments or credits.
 *   Per call, the ledger rounded the cost to 12 decimals; any such residual (only for prices with more than
 *   6 decimals) is carried on the group's last row, so the file's BilledCost sums to the ledger exactly.
 * - ChargePeriodStart/End: the UTC day the calls happened, start inclusive, end exclusive.
 * - BillingPeriodStart/End: the accounting period (month) the row is billed in. A call that arrived after
 *   its month was closed is billed in the next open month with ChargeClass 'Correction' (FOCUS: a row that
 *   corrects charges invoiced in a previous billing period); its ChargePeriod keeps the day it happened.
 * - Calls without a price (a model with no price in force) keep their ledger cost on one row, ListUnitPrice null.
 */

export type TokenKind = 'input' | 'cached_input' | 'cache_write' | 'output';

/** What a FOCUS row breaks spend down by, in the access rules' terms (src/graphql/access.ts). */
export const FOCUS_GRAIN = ['BU', 'USE_CASE', 'AGENT', 'MODEL', 'PROVIDER', 'DAY', 'MONTH'] as const;

export type FocusGroup = {
  day: Date;
  bu_id: string;
  use_case_id: string;
  agent_id: string;
  provider: string;
  provider_name: string;
  model_requested: string;
  model_served: string;
  price_id: number | null;
  budget_tier: string;
  policy_revision: string;
  currency: string;
  correction: boolean;
  calls: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  /** Σ of the ledger rows' cost. */
  cost: string;
  /** Per-million prices of price_id; null when the calls had no price. */
  price: Record<TokenKind, string> | null;
};

export const FOCUS_COLUMNS = [
  'BilledCost', 'EffectiveCost', 'ListCost', 'ListUnitPrice', 'BillingCurrency',
  'BillingPeriodStart', 'BillingPeriodEnd', 'ChargePeriodStart', 'ChargePeriodEnd',
  'ChargeCategory', 'ChargeClass', 'ChargeFrequency', 'ChargeDescription',
  'ServiceCategory', 'ServiceName', 'ServiceProviderName', 'SkuId', 'SkuPriceId',
  'ConsumedQuantity', 'ConsumedUnit', 'PricingQuantity', 'PricingUnit', 'Tags',
  'x_BusinessUnit', 'x_UseCase', 'x_Agent', 'x_ModelRequested', 'x_ModelServed', 'x_TokenType',
  'x_BudgetTier', 'x_PolicyRevision', 'x_Calls',
] as const;

export type FocusRow = Record<(typeof FOCUS_COLUMNS)[number], string>;

const KINDS: readonly [TokenKind, keyof FocusGroup][] = [
  ['input', 'input_tokens'], ['cached_input', 'cached_input_tokens'], ['cache_write', 'cache_write_tokens'], ['output', 'output_tokens'],
];
const QUANTITY_SCALE = 6; // tokens ÷ 10^6, exact

export function focusRows(groups: readonly FocusGroup[], billingPeriod: { from: Date; to: Date }): FocusRow[] {
  return groups.flatMap((g) => groupRows(g, billingPeriod));
}

function groupRows(g: FocusGroup, billing: { from: Date; to: Date }): FocusRow[] {
  const parts = g.price ? pricedParts(g, g.price) : [{ kind: null, tokens: totalTokens(g), unitPrice: null, cost: parseDecimal(g.cost) }];
  const priced = sum(parts.map((p) => p.cost));
  const last = parts.at(-1)!;
  last.cost = add(last.cost, add(g.cost, { units: -priced.units, scale: priced.scale }));
  return parts.map((p) => row(g, billing, p));
}

type Part = { kind: TokenKind | null; tokens: number; unitPrice: string | null; cost: Decimal };

function pricedParts(g: FocusGroup, price: Record<TokenKind, string>): Part[] {
  const parts = KINDS.filter(([, col]) => (g[col] as number) > 0).map(([kind, col]): Part => {
    const tokens = g[col] as number;
    return { kind, tokens, unitPrice: price[kind], cost: costPerMillion(tokens, price[kind]) };
  });
  return parts.length > 0 ? parts : [{ kind: 'input', tokens: 0, unitPrice: price.input, cost: parseDecimal('0') }];
}

function row(g: FocusGroup, billing: { from: Date; to: Date }, p: Part): FocusRow {
  const cost = toMoney(p.cost);
  const sku = `${g.model_served}${p.kind ? `/${p.kind}` : ''}`;
  return {
    BilledCost: cost,
    EffectiveCost: cost,
    ListCost: cost,
    ListUnitPrice: p.unitPrice ?? '',
    BillingCurrency: g.currency,
    BillingPeriodStart: iso(billing.from),
    BillingPeriodEnd: iso(billing.to),
    ChargePeriodStart: iso(g.day),
    ChargePeriodEnd: iso(new Date(g.day.getTime() + 86_400_000)),
    ChargeCategory: 'Usage',
    ChargeClass: g.correction ? 'Correction' : '',
    ChargeFrequency: 'Usage-Based',
    ChargeDescription: `${g.model_served} ${p.kind ? p.kind.replace('_', ' ') : 'all'} tokens`,
    ServiceCategory: 'AI and Machine Learning',
    ServiceName: `${g.provider_name} API`,
    ServiceProviderName: g.provider_name,
    SkuId: sku,
    SkuPriceId: g.price_id === null ? '' : `${sku}@${g.price_id}`,
    ConsumedQuantity: String(p.tokens),
    ConsumedUnit: 'Tokens',
    PricingQuantity: formatDecimal(divide({ units: BigInt(p.tokens), scale: 0 }, { units: 1_000_000n, scale: 0 }, QUANTITY_SCALE)),
    PricingUnit: '1M tokens',
    Tags: JSON.stringify({ bu: g.bu_id, use_case: g.use_case_id, agent: g.agent_id }),
    x_BusinessUnit: g.bu_id,
    x_UseCase: g.use_case_id,
    x_Agent: g.agent_id,
    x_ModelRequested: g.model_requested,
    x_ModelServed: g.model_served,
    x_TokenType: p.kind ?? 'all',
    x_BudgetTier: g.budget_tier,
    x_PolicyRevision: g.policy_revision,
    x_Calls: String(g.calls),
  };
}

export function toCsv(rows: readonly FocusRow[]): string {
  const lines = rows.map((r) => FOCUS_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${[FOCUS_COLUMNS.join(','), ...lines].join('\n')}\n`;
}

function totalTokens(g: FocusGroup): number {
  return g.input_tokens + g.cached_input_tokens + g.cache_write_tokens + g.output_tokens;
}

function iso(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

function csvCell(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
