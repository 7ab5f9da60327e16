import type { Knex } from 'knex';
import { forecastBudget, periodEnd, ratioOf, thresholdsFrom, tierOf, type Thresholds } from '../../analytics/forecast.js';
import { BudgetChangeError, extendBudget, listBudgetChanges, setBudgetAudited, type BudgetChangeRow, type BudgetSnapshot } from '../../db/budget-changes.js';
import { budgetBu, listBudgetViews, tierEventsOf, type BudgetView, type Delivery, type TierEventView } from '../../db/budget-views.js';
import type { BudgetPeriod, BudgetUnit } from '../../db/budgets.js';
import { add } from '../../metering/money.js';
import type { BudgetScope } from '../../policy/types.js';
import { ACCESS_RULES, authorize, canSee, requireCaller, scopeFor, type Caller } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';
import { budgetTierEventsSubscription } from '../subscriptions.js';

/**
 * Budgets with their figures, tiers (the policy bundle's thresholds), events and forecasts; setBudget and
 * extendBudget through the same audited functions as the CLI, the actor being `token:<id>`.
 */

type Scope = 'USE_CASE' | 'BU' | 'AGENT' | 'SESSION';
type BudgetArgs = { filter?: { scope?: Scope | null; bu?: string | null; useCase?: string | null } | null; at?: Date | null };

const lower = <T extends string>(s: string) => s.toLowerCase() as T;
const upper = (s: string) => s.toUpperCase();

/** The bundle's tier thresholds, as the policy reads them (null: tiers UNKNOWN). */
function thresholdsOf(ctx: GqlContext): Thresholds | null {
  return thresholdsFrom(ctx.app.tollgate?.policy.data ?? null);
}

async function budgets(_: unknown, args: BudgetArgs, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'budgets');
  const filter = args.filter ?? {};
  const scopes = allowedScopes(caller, filter.scope ? lower<BudgetScope>(filter.scope) : undefined);
  if (filter.useCase) scopeFor(caller, await useCaseBu(ctx.db, filter.useCase));
  const scope = scopeFor(caller, filter.bu);
  const at = args.at ?? new Date();
  const rows = await withTimeout(ctx, () => listBudgetViews(ctx.db, at, {
    scopes, buId: scope.buId, useCaseId: filter.useCase ?? undefined, includeGlobal: !filter.bu && !filter.useCase,
  }));
  const thresholds = thresholdsOf(ctx);
  return rows.map((r) => budgetOut(r, at, thresholds));
}

function allowedScopes(caller: Caller, asked: BudgetScope | undefined): readonly BudgetScope[] {
  const allowed = ACCESS_RULES[caller.role].budgetScopes;
  if (asked && !allowed.includes(asked)) throw new AnalyticsError('FORBIDDEN', `the ${caller.role} role cannot read ${asked} budgets`);
  return asked ? [asked] : allowed;
}

async function useCaseBu(db: Knex, id: string): Promise<string> {
  const bu = await budgetBu(db, 'use_case', id);
  if (!bu) throw new AnalyticsError('BAD_USER_INPUT', `unknown use case "${id}"`);
  return bu;
}

export type BudgetOut = ReturnType<typeof budgetOut>;

function budgetOut(r: BudgetView, at: Date, thresholds: Thresholds | null) {
  const end = periodEnd(r.period, r.period_start);
  const session = r.scope === 'session';
  const used = add(r.spent, r.reserved);
  return {
    id: r.id, scope: upper(r.scope), scopeId: r.scope_id, bu: r.bu_id, useCase: r.use_case_id, unit: upper(r.unit),
    currency: r.currency, period: upper(r.period), periodStart: r.period_start, periodEnd: end,
    limit: r.limit_amount, maxCalls: r.max_calls,
    spent: session ? null : r.spent, reserved: session ? null : r.reserved, calls: session ? null : r.calls,
    ratio: session ? null : ratioOf(used, r.limit_amount),
    // Session caps have no tiers in the policy: they only stop a session.
    tier: session ? 'NONE' : tierOf(used, r.limit_amount, thresholds),
    forecast: session || r.limit_amount === null ? null
      : forecastBudget({ spent: r.spent, limit: r.limit_amount, periodStart: r.period_start, periodEnd: end, asOf: at, thresholds }),
    tierLines: session || r.limit_amount === null || !thresholds ? [] : tierLines(thresholds),
  };
}

const TIER_LINES = [['NOTICE', 'notice'], ['WARNING', 'warning'], ['SOFT_CAP', 'soft_cap'], ['HARD_CAP', 'hard_cap']] as const;

/** Where each tier starts, as a share of the limit, lowest first (what a burn-down chart draws its lines at). */
function tierLines(t: Thresholds): { tier: string; ratio: string }[] {
  return TIER_LINES.map(([tier, key]) => ({ tier, ratio: t[key].toFixed(6) })).sort((a, b) => Number(a.ratio) - Number(b.ratio));
}

/** One query for the events of every listed budget (and one for their deliveries). */
async function eventsLoader(queries: { obj: BudgetOut }[], ctx: GqlContext): Promise<TierEventView[][]> {
  const wanted = queries.map((q) => q.obj).filter((b) => b.scope !== 'SESSION');
  const events = await withTimeout(ctx, () => tierEventsOf(ctx.db, wanted.map((b) => ({ budgetId: b.id, periodStart: b.periodStart }))));
  return queries.map((q) => events.filter((e) => e.budget_id === q.obj.id && e.period_start.getTime() === q.obj.periodStart.getTime()));
}

async function budgetHistory(_: unknown, args: { scope: Scope; scopeId: string }, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'budgets');
  const scope = lower<BudgetScope>(args.scope);
  allowedScopes(caller, scope);
  await assertBudgetInScope(ctx.db, caller, scope, args.scopeId);
  return withTimeout(ctx, () => mapChangeErrors(() => listBudgetChanges(ctx.db, { scope, scopeId: args.scopeId })));
}

/** A BU owner reads its BU's budgets only (the global session cap included); others every one. */
async function assertBudgetInScope(db: Knex, caller: Caller, scope: BudgetScope, scopeId: string): Promise<void> {
  if (ACCESS_RULES[caller.role].scope === 'all' || (scope === 'session' && scopeId === '*')) return;
  scopeFor(caller, (await budgetBu(db, scope, scopeId)) ?? '\u0000unknown');
}

type SetArgs = { input: { scope: Scope; scopeId: string; limit?: string | null; unit: 'USD' | 'TOKENS'; period: string; maxCalls?: number | null; reason?: string | null } };

async function setBudget(_: unknown, { input }: SetArgs, ctx: GqlContext) {
  const caller = authorizeWrite(ctx.caller);
  const scope = lower<BudgetScope>(input.scope);
  const unit = lower<BudgetUnit>(input.unit);
  validateSet(scope, unit, input);
  await assertTargetExists(ctx.db, scope, input.scopeId);
  const result = await mapChangeErrors(() => setBudgetAudited(ctx.db, {
    scope, scopeId: input.scopeId, limit: input.limit ?? null, unit, period: lower<BudgetPeriod>(input.period),
    maxCalls: input.maxCalls ?? null, actor: actorOf(caller), reason: input.reason ?? null,
  }));
  await applied(ctx);
  return { budget: await budgetAfter(ctx, scope, input.scopeId), change: result.change };
}

type ExtendArgs = { input: { scope: Scope; scopeId: string; by?: string | null; to?: string | null; reason: string } };

async function extendBudgetResolver(_: unknown, { input }: ExtendArgs, ctx: GqlContext) {
  const caller = authorizeWrite(ctx.caller);
  const scope = lower<BudgetScope>(input.scope);
  const result = await mapChangeErrors(() => extendBudget(ctx.db, {
    scope, scopeId: input.scopeId, by: input.by ?? undefined, to: input.to ?? undefined, reason: input.reason, actor: actorOf(caller),
  }));
  await applied(ctx);
  return { budget: await budgetAfter(ctx, scope, input.scopeId), change: result.change };
}

/** This replica applies a budget change before the mutation answers; failing that, the notification does it. */
async function applied(ctx: GqlContext): Promise<void> {
  await ctx.budgetsChanged?.().catch(() => {});
}

function authorizeWrite(caller: Caller | null | undefined): Caller {
  const c = requireCaller(caller);
  if (!canSee(c, 'budgets:write')) throw new AnalyticsError('FORBIDDEN', `the ${c.role} role cannot change budgets (admin only)`);
  return c;
}

/** Who changed a budget, in the audit: the API token (ids are stable; labels are optional and editable). */
const actorOf = (caller: Caller) => `token:${caller.tokenId}`;

function validateSet(scope: BudgetScope, unit: BudgetUnit, input: SetArgs['input']): void {
  if (input.limit == null && !(scope === 'session' && input.maxCalls)) throw new AnalyticsError('BAD_USER_INPUT', 'limit is required (a session cap may give maxCalls instead)');
  if (input.maxCalls != null && scope !== 'session') throw new AnalyticsError('BAD_USER_INPUT', 'maxCalls applies to session caps only');
  if (input.maxCalls != null && input.maxCalls < 1) throw new AnalyticsError('BAD_USER_INPUT', 'maxCalls must be at least 1');
  if (input.limit != null && input.limit.startsWith('-')) throw new AnalyticsError('BAD_USER_INPUT', 'limit must not be negative');
  if (unit === 'tokens' && input.limit != null && !/^\d+$/.test(input.limit)) throw new AnalyticsError('BAD_USER_INPUT', 'a token budget must be a whole number');
}

const SCOPE_TABLES: Record<BudgetScope, string> = { use_case: 'use_cases', bu: 'business_units', agent: 'agents', session: 'use_cases' };

async function assertTargetExists(db: Knex, scope: BudgetScope, id: string): Promise<void> {
  if (scope === 'session' && id === '*') return;
  if (!(await db(SCOPE_TABLES[scope]).where('id', id).first('id'))) {
    throw new AnalyticsError('BAD_USER_INPUT', `unknown ${scope === 'session' ? 'use case' : scope.replace('_', ' ')} "${id}"`);
  }
}

async function budgetAfter(ctx: GqlContext, scope: BudgetScope, scopeId: string): Promise<BudgetOut> {
  const at = new Date();
  const rows = await listBudgetViews(ctx.db, at, { scopes: [scope] });
  return budgetOut(rows.find((r) => r.scope_id === scopeId)!, at, thresholdsOf(ctx));
}

const CHANGE_CODES: Record<BudgetChangeError['code'], 'NOT_FOUND' | 'BAD_USER_INPUT'> = {
  unknown_budget: 'NOT_FOUND', invalid_amount: 'BAD_USER_INPUT', not_an_extension: 'BAD_USER_INPUT',
  missing_reason: 'BAD_USER_INPUT', missing_actor: 'BAD_USER_INPUT',
};

async function mapChangeErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof BudgetChangeError) throw new AnalyticsError(CHANGE_CODES[err.code], err.message, { reason: err.code });
    throw err;
  }
}

const snapshotOut = (s: BudgetSnapshot | null) => s && {
  limit: s.limit_amount, unit: upper(s.unit), currency: s.currency, period: upper(s.period), maxCalls: s.max_calls,
};

/** A tier event from the database or from a notification: the fields both carry. */
type EventLike = Pick<TierEventView, 'id' | 'budget_id' | 'tier' | 'ratio' | 'spent' | 'unit' | 'request_id'> & {
  limit_amount?: string; limit?: string; period_start: Date | string; crossed_at: Date | string; deliveries?: Delivery[];
};

async function deliveriesOf(e: EventLike, _: unknown, ctx: GqlContext) {
  if (!canSee(requireCaller(ctx.caller), 'budgets:deliveries')) return null;
  // Events read through the budgets query carry their deliveries; a subscription's are looked up.
  return e.deliveries ?? deliveriesById(ctx.db, e.id);
}

async function deliveriesById(db: Knex, eventId: number): Promise<Delivery[]> {
  return (await db('notification_outbox').where('event_id', eventId).orderBy('recipient')
    .select('event_id', 'recipient', 'status', 'attempts', 'delivered_at', 'last_error', 'last_status') as Delivery[])
    .map((d) => ({ ...d, attempts: Number(d.attempts) }));
}

export const budgetResolvers = {
  Query: { budgets, budgetHistory },
  Mutation: { setBudget, extendBudget: extendBudgetResolver },
  Subscription: { budgetTierEvents: budgetTierEventsSubscription },
  BudgetTierEvent: {
    budgetId: (e: EventLike) => e.budget_id,
    tier: (e: EventLike) => upper(e.tier),
    limit: (e: EventLike) => e.limit_amount ?? e.limit,
    unit: (e: EventLike) => upper(e.unit),
    periodStart: (e: EventLike) => e.period_start,
    requestId: (e: EventLike) => e.request_id,
    crossedAt: (e: EventLike) => e.crossed_at,
    deliveries: deliveriesOf,
  },
  NotificationDelivery: {
    deliveredAt: (d: Delivery) => d.delivered_at,
    lastError: (d: Delivery) => d.last_error,
    lastHttpStatus: (d: Delivery) => d.last_status,
  },
  BudgetChange: {
    action: (c: BudgetChangeRow) => upper(c.action),
    before: (c: BudgetChangeRow) => snapshotOut(c.before),
    after: (c: BudgetChangeRow) => snapshotOut(c.after),
    at: (c: BudgetChangeRow) => c.created_at,
  },
};

export const budgetLoaders = { Budget: { events: eventsLoader } };
