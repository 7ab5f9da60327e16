import { listReviews, type ReviewRow } from '../../db/usage-review.js';
import type { UsageReview } from '../../metering/types.js';
import { authorize } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';
import { MAX_PAGE_SIZE } from './decisions.js';

/** The usage review queue (src/db/usage-review.ts), for finance and admin. */

type Reason = 'OVER_BOUND' | 'USAGE_INVALID';
type Filter = { bu?: string | null; reason?: Reason | null; from?: Date | null; to?: Date | null };

async function usageReview(_: unknown, args: { filter?: Filter | null; first: number }, ctx: GqlContext) {
  authorize(ctx.caller, 'review');
  if (args.first > MAX_PAGE_SIZE) throw new AnalyticsError('PAGE_SIZE_EXCEEDED', `first is capped at ${MAX_PAGE_SIZE}`, { max: MAX_PAGE_SIZE });
  if (args.first < 1) throw new AnalyticsError('BAD_USER_INPUT', 'first must be at least 1');
  const f = args.filter ?? {};
  return withTimeout(ctx, () => listReviews(ctx.db, {
    buId: f.bu ?? undefined, reason: f.reason ? (f.reason.toLowerCase() as UsageReview['reason']) : undefined,
    from: f.from ?? undefined, to: f.to ?? undefined, limit: args.first,
  }));
}

export const reviewResolvers = {
  Query: { usageReview },
  UsageReviewItem: {
    requestId: (r: ReviewRow) => r.request_id,
    recordedAt: (r: ReviewRow) => r.recorded_at,
    buId: (r: ReviewRow) => r.bu_id,
    useCaseId: (r: ReviewRow) => r.use_case_id,
    agentId: (r: ReviewRow) => r.agent_id,
    model: (r: ReviewRow) => r.model_served,
    reason: (r: ReviewRow) => r.reason.toUpperCase(),
    reportedCost: (r: ReviewRow) => r.reported_cost,
    boundInputTokens: (r: ReviewRow) => r.bound_input_tokens,
    boundOutputTokens: (r: ReviewRow) => r.bound_output_tokens,
    billedCost: (r: ReviewRow) => r.billed_cost,
  },
};
