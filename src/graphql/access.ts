import type { ApiRole } from '../db/api-tokens.js';
import type { BudgetScope } from '../policy/types.js';
import { AnalyticsError } from './errors.js';

/**
 * Who may read what: the one table of access rules, and the checks every surface runs through (GraphQL and
 * its subscriptions, the CSV/JSON/FOCUS reports, the outcomes route, /metrics).
 * A BU owner's scope is applied IN THE QUERY (resolvers pass `scope.buId` to SQL as `bu_id = ?`), never
 * by filtering rows afterwards; naming another BU in a filter is FORBIDDEN rather than an empty answer.
 */

export type Caller = { tokenId: string; role: ApiRole; buId: string | null };

/**
 * budgets: read budgets, their tiers, events and forecasts (and subscribe to tier events);
 * budgets:deliveries: also the delivery state of their notifications (recipients, errors);
 * budgets:write: setBudget, extendBudget;
 * adjacency: read the adjacency graph and its alerts (with their history and council deliveries);
 * adjacency:act: run the analysis, acknowledge, escalate and resolve alerts;
 * outcomes:write: record outcome points (GraphQL, POST /v1/outcomes), within the role's scope;
 * metrics: scrape /metrics (spend per model, the process' state);
 * prices: the price book (list prices in force and their history), which every role but the scraper reads;
 * shadow-spend: the providers' reports against the ledger. Not for a BU owner: a report has no BU (bypass
 * spend never carried tags) and its ledger side is every BU's; not for the council: it names API keys;
 * review: the usage review queue (calls not billed as their provider reported).
 */
export type Capability = 'catalog' | 'agents' | 'chargeback' | 'decisions' | 'budgets' | 'budgets:deliveries' | 'budgets:write' | 'adjacency' | 'adjacency:act' | 'outcomes:write' | 'metrics' | 'prices' | 'shadow-spend' | 'review';
export type Dimension = 'BU' | 'USE_CASE' | 'AGENT' | 'MODEL' | 'PROVIDER' | 'DAY' | 'MONTH';
export type FilterKey = 'bu' | 'useCase' | 'agent' | 'model' | 'provider';

type Rule = {
  /** 'all': every BU; 'own-bu': the token's BU only. */
  scope: 'all' | 'own-bu';
  can: readonly Capability[];
  dimensions: readonly Dimension[];
  filters: readonly FilterKey[];
  /** The budget scopes the role may read (with 'budgets'). */
  budgetScopes: readonly BudgetScope[];
};

const ALL_DIMENSIONS: readonly Dimension[] = ['BU', 'USE_CASE', 'AGENT', 'MODEL', 'PROVIDER', 'DAY', 'MONTH'];
const ALL_FILTERS: readonly FilterKey[] = ['bu', 'useCase', 'agent', 'model', 'provider'];
const ALL_BUDGET_SCOPES: readonly BudgetScope[] = ['use_case', 'bu', 'agent', 'session'];
const READ_BUDGETS: readonly Capability[] = ['budgets', 'budgets:deliveries'];

export const ACCESS_RULES: Readonly<Record<ApiRole, Rule>> = Object.freeze({
  // Finance reads budgets but does not set them: "admin edits catalog and budgets" (DESIGN.md).
  finance: { scope: 'all', can: ['catalog', 'prices', 'agents', 'chargeback', 'decisions', ...READ_BUDGETS, 'adjacency', 'outcomes:write', 'shadow-spend', 'review'], dimensions: ALL_DIMENSIONS, filters: ALL_FILTERS, budgetScopes: ALL_BUDGET_SCOPES },
  admin: { scope: 'all', can: ['catalog', 'prices', 'agents', 'chargeback', 'decisions', ...READ_BUDGETS, 'budgets:write', 'adjacency', 'adjacency:act', 'outcomes:write', 'metrics', 'shadow-spend', 'review'], dimensions: ALL_DIMENSIONS, filters: ALL_FILTERS, budgetScopes: ALL_BUDGET_SCOPES },
  'bu-owner': { scope: 'own-bu', can: ['catalog', 'prices', 'agents', 'chargeback', 'decisions', ...READ_BUDGETS, 'outcomes:write'], dimensions: ALL_DIMENSIONS, filters: ALL_FILTERS, budgetScopes: ALL_BUDGET_SCOPES },
  // The council weighs BUs and use cases against each other (adjacency): aggregate spend over time, but
  // nothing that identifies agents, sessions or single calls. Budgets: the use case and BU ones (their
  // figures, tiers, events and forecasts are aggregates), without who was notified or how delivery went.
  // The adjacency graph is the council's own view; it acts on its alerts (finance reads them, BU owners do not).
  council: { scope: 'all', can: ['catalog', 'prices', 'chargeback', 'budgets', 'adjacency', 'adjacency:act'], dimensions: ['BU', 'USE_CASE', 'DAY', 'MONTH'], filters: ['bu', 'useCase'], budgetScopes: ['use_case', 'bu'] },
  // A Prometheus scraper: /metrics and nothing else, so that it never holds finance's or admin's powers.
  metrics: { scope: 'all', can: ['metrics'], dimensions: [], filters: [], budgetScopes: [] },
});

/** The BU a query must be limited to: the caller's own for a BU owner, else the one asked for (if any). */
export type Scope = { buId: string | undefined };

export function requireCaller(caller: Caller | null | undefined): Caller {
  if (!caller) throw new AnalyticsError('UNAUTHENTICATED');
  return caller;
}

export function authorize(caller: Caller | null | undefined, capability: Capability): Caller {
  const c = requireCaller(caller);
  if (!ACCESS_RULES[c.role].can.includes(capability)) throw new AnalyticsError('FORBIDDEN', `the ${c.role} role cannot read ${capability}`);
  return c;
}

/** The BU scope of a query that may name a BU; a BU owner naming another BU is refused. */
export function scopeFor(caller: Caller, requestedBu?: string | null): Scope {
  if (ACCESS_RULES[caller.role].scope === 'all') return { buId: requestedBu ?? undefined };
  if (requestedBu && requestedBu !== caller.buId) throw new AnalyticsError('FORBIDDEN', 'a BU owner can only read its own BU');
  return { buId: caller.buId ?? impossible() };
}

/** The BU every query of this caller is limited to (a BU owner's own), or undefined for every BU. */
export function ownBu(caller: Caller): string | undefined {
  return ACCESS_RULES[caller.role].scope === 'own-bu' ? scopeFor(caller).buId : undefined;
}

/** Refuses spend broken down by a dimension the role may not read, whatever the surface (`what` names it). */
export function checkDimensions(caller: Caller, dimensions: readonly Dimension[], what = 'group chargeback by'): void {
  const dim = dimensions.find((d) => !ACCESS_RULES[caller.role].dimensions.includes(d));
  if (dim) throw new AnalyticsError('FORBIDDEN', `the ${caller.role} role cannot ${what} ${dim}`);
}

export function checkChargeback(caller: Caller, groupBy: readonly Dimension[], filter: Partial<Record<FilterKey, unknown>>): void {
  const rule = ACCESS_RULES[caller.role];
  checkDimensions(caller, groupBy);
  const key = (Object.keys(filter) as FilterKey[]).find((k) => filter[k] != null && !rule.filters.includes(k));
  if (key) throw new AnalyticsError('FORBIDDEN', `the ${caller.role} role cannot filter chargeback by ${key}`);
}

/** Whether relations to agents may be resolved for this caller (others resolve to null). */
export function canSee(caller: Caller, capability: Capability): boolean {
  return ACCESS_RULES[caller.role].can.includes(capability);
}

function impossible(): never {
  // api_tokens has a check constraint: a bu-owner token always has a BU.
  throw new AnalyticsError('FORBIDDEN', 'this BU-owner token has no BU');
}
