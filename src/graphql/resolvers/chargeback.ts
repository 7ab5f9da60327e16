import { ChargebackInputError, resolvePeriod, runChargeback, type ChargebackDimension, type ChargebackFilter, type ChargebackRow } from '../../analytics/chargeback.js';
import { authorize, checkChargeback, ownBu, scopeFor, type Caller } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';
import type { Knex } from 'knex';
import { agentOf, buOf, useCaseOf } from './catalog.js';

type ChargebackArgs = { period?: string | null; from?: Date | null; to?: Date | null; groupBy: ChargebackDimension[]; filter?: ChargebackFilter | null };

/** Validates access and input, then runs the report; shared by GraphQL and GET /v1/reports/chargeback. */
export async function chargebackFor(db: Knex, caller: Caller, args: ChargebackArgs) {
  const filter = args.filter ?? {};
  checkChargeback(caller, args.groupBy, filter);
  scopeFor(caller, filter.bu);
  const own = ownBu(caller);
  if (own !== undefined) await assertInBu(db, own, filter);
  let period;
  try {
    period = resolvePeriod(args);
  } catch (err) {
    if (err instanceof ChargebackInputError) throw new AnalyticsError('BAD_USER_INPUT', err.message);
    throw err;
  }
  return runChargeback(db, { ...period, groupBy: args.groupBy, filter, scopeBu: own });
}

/** A BU owner naming another BU's use case or agent is refused, not answered with nothing. */
async function assertInBu(db: Knex, buId: string, filter: ChargebackFilter): Promise<void> {
  const checks: [string, string | null | undefined][] = [['use_cases', filter.useCase], ['agents', filter.agent]];
  for (const [table, id] of checks) {
    if (id == null) continue;
    const own = await db(table).where({ id, bu_id: buId }).first('id');
    if (!own) throw new AnalyticsError('FORBIDDEN', `a BU owner can only read its own BU (${table === 'agents' ? 'agent' : 'use case'} "${id}")`);
  }
}

export const chargebackResolvers = {
  Query: {
    chargeback: (_: unknown, args: ChargebackArgs, ctx: GqlContext) =>
      withTimeout(ctx, () => chargebackFor(ctx.db, authorize(ctx.caller, 'chargeback'), args)),
  },
};

export const chargebackLoaders = {
  ChargebackRow: {
    businessUnit: buOf<ChargebackRow>((r) => r.key.bu),
    useCase: useCaseOf<ChargebackRow>((r) => r.key.useCase),
    agent: agentOf<ChargebackRow>((r) => r.key.agent),
  },
};
