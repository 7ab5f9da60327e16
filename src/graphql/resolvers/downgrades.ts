import { ChargebackInputError, resolvePeriod } from '../../analytics/chargeback.js';
import { downgradeReport } from '../../analytics/downgrades.js';
import { downgradeGroups } from '../../db/downgrades.js';
import { loadPrices } from '../../db/prices.js';
import { authorize, checkChargeback, scopeFor } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';

/**
 * The soft cap's downgrades and the money they saved. They name models, so they follow chargeback by model:
 * finance, admin and a BU owner (its BU, in the query); the council, which may not see models, is refused.
 */

type Args = { period?: string | null; from?: Date | null; to?: Date | null; bu?: string | null };

async function downgrades(_: unknown, args: Args, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'chargeback');
  checkChargeback(caller, ['BU', 'USE_CASE', 'MODEL'], {});
  const scope = scopeFor(caller, args.bu);
  let period: { from: Date; to: Date };
  try {
    period = resolvePeriod(args);
  } catch (err) {
    if (err instanceof ChargebackInputError) throw new AnalyticsError('BAD_USER_INPUT', err.message);
    throw err;
  }
  const [groups, prices] = await withTimeout(ctx, () => Promise.all([downgradeGroups(ctx.db, period, scope), loadPrices(ctx.db)]));
  const report = downgradeReport(groups, new Map(prices.map((p) => [Number(p.id), p])));
  return { currency: 'USD', from: period.from, to: period.to, ...report };
}

export const downgradeResolvers = { Query: { downgrades } };
export const downgradeLoaders = {};
