import type { ShadowDimension, ShadowRow } from '../../reconcile/compare.js';
import { readShadowSpend, resolveShadowSpec, ShadowInputError, type ShadowSpendView } from '../../reconcile/report.js';
import type { NoticeView } from '../../db/reconcile.js';
import { authorize } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';

type Args = { period?: string | null; from?: Date | null; to?: Date | null; provider?: string | null; groupBy: ShadowDimension[] };

const SOURCE_ENUM = { reported: 'REPORTED', allocated: 'ALLOCATED', usage_only: 'USAGE_ONLY' } as const;

export const shadowResolvers = {
  Query: {
    shadowSpend: (_: unknown, args: Args, ctx: GqlContext) => withTimeout(ctx, async () => {
      authorize(ctx.caller, 'shadow-spend');
      let spec;
      try {
        spec = resolveShadowSpec(args);
      } catch (err) {
        if (err instanceof ShadowInputError) throw new AnalyticsError('BAD_USER_INPUT', err.message);
        throw err;
      }
      return readShadowSpend(ctx.db, ctx.app.tollgate.config.reconcile, spec);
    }),
  },
  ShadowSpend: {
    from: (v: ShadowSpendView) => new Date(`${v.from}T00:00:00Z`),
    to: (v: ShadowSpendView) => new Date(`${v.to}T00:00:00Z`),
  },
  ShadowSpendRow: {
    costSources: (r: ShadowRow) => r.costSources.map((s) => SOURCE_ENUM[s]),
  },
  ShadowSpendNotice: {
    delivery: (n: NoticeView) => n.delivery && { status: n.delivery.status, attempts: n.delivery.attempts, lastError: n.delivery.last_error, deliveredAt: n.delivery.delivered_at },
    createdAt: (n: NoticeView) => n.created_at,
  },
};

export const shadowLoaders = {};
