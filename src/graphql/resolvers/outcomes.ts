import type { Knex } from 'knex';
import { monthRange } from '../../budgets/period.js';
import { loadCostPerOutcome, upsertOutcomePoints, type CostPerOutcomeReport } from '../../db/outcomes.js';
import { authorize, scopeFor, type Caller } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';

/** Cost per outcome (read like chargeback: aggregate spend) and single outcome points (written by their BU). */

type UseCaseRow = { id: string; bu_id: string };

async function costPerOutcome(_: unknown, args: { useCase: string; period: string; metric?: string | null }, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'chargeback');
  const period = monthOf(args.period);
  const uc = await useCaseInScope(ctx.db, caller, args.useCase);
  return withTimeout(ctx, async () => (await loadCostPerOutcome(ctx.db, uc.id, period, args.metric ?? undefined))!);
}

async function costPerOutcomes(_: unknown, args: { period: string; bu?: string | null }, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'chargeback');
  const period = monthOf(args.period);
  const scope = scopeFor(caller, args.bu);
  return withTimeout(ctx, async () => {
    const q = ctx.db('use_cases').select('id').whereNotNull('outcome_metric').orderBy('id');
    if (scope.buId !== undefined) q.where('bu_id', scope.buId);
    const ids = ((await q) as { id: string }[]).map((r) => r.id);
    return Promise.all(ids.map(async (id) => (await loadCostPerOutcome(ctx.db, id, period))!));
  });
}

// Roles with outcomes:write record within their scope (a BU owner: its BU's use cases).
async function recordOutcome(_: unknown, args: { useCase: string; metric: string; at: Date; value: string }, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'outcomes:write');
  const uc = await useCaseInScope(ctx.db, caller, args.useCase);
  if (args.metric.trim() === '') throw new AnalyticsError('BAD_USER_INPUT', 'metric must not be empty');
  const counts = await upsertOutcomePoints(ctx.db, [{ useCaseId: uc.id, metric: args.metric, ts: args.at, value: args.value, source: `api:${caller.tokenId}` }]);
  const status = counts.inserted ? 'INSERTED' : counts.updated ? 'UPDATED' : 'UNCHANGED';
  return { useCase: uc.id, metric: args.metric, at: args.at, value: args.value, status };
}

/** The use case, if the caller may see it; a BU owner naming another BU's use case is refused. */
async function useCaseInScope(db: Knex, caller: Caller, id: string): Promise<UseCaseRow> {
  const uc = (await db('use_cases').where({ id }).first('id', 'bu_id')) as UseCaseRow | undefined;
  if (!uc) throw new AnalyticsError('BAD_USER_INPUT', `unknown use case "${id}"`);
  scopeFor(caller, uc.bu_id);
  return uc;
}

function monthOf(period: string): { from: Date; to: Date } {
  try {
    return monthRange(period);
  } catch (err) {
    throw new AnalyticsError('BAD_USER_INPUT', (err as Error).message);
  }
}

export const outcomeResolvers = {
  Query: { costPerOutcome, costPerOutcomes },
  Mutation: { recordOutcome },
  CostPerOutcome: {
    useCase: (r: CostPerOutcomeReport) => r.useCaseId,
    bu: (r: CostPerOutcomeReport) => r.buId,
    direction: (r: CostPerOutcomeReport) => r.direction.toUpperCase(),
    start: (r: CostPerOutcomeReport) => (r.start ? { at: r.start.ts, value: r.start.value } : null),
    end: (r: CostPerOutcomeReport) => (r.end ? { at: r.end.ts, value: r.end.value } : null),
  },
};
export const outcomeLoaders = {};
