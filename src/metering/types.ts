import type { NormalizedUsage } from '../providers/types.js';

/** What a caller claimed: its tags and parent call id, each already checked at the edge (src/gateway/tags.ts). */
export type ClaimedTags = Partial<Record<'bu' | 'use_case' | 'agent_id' | 'session_id' | 'parent_id', string>>;

/**
 * Why a ledger row is not simply what the provider reported (README, "Flags on ledger rows").
 * - fallback: written by the in-flight sweep for a call whose gateway never reported (the prompt estimate);
 * - usage_invalid: the provider's usage report held something other than token counts; metered as if it had none;
 * - usage_unread: a JSON answer too large to hold (over 16 MB) whose usage was not in its last bytes; metered
 *   from the estimate;
 * - metering_failed: reading the call's usage failed in tollgate; metered from the estimate;
 * - sanitized: Postgres refused the record as it was; this row is its sanitized copy (the original is in
 *   metering_dead_letters);
 * - over_bound: the usage passed what the call could have used (src/metering/bound.ts); billed at the bound,
 *   what was reported is in usage_review;
 * - replaced_fallback: the call's fallback had been written while it was still live; this real event replaced it
 *   (src/db/fallbacks.ts).
 */
export type UsageFlag = 'fallback' | 'usage_invalid' | 'usage_unread' | 'metering_failed' | 'sanitized' | 'over_bound' | 'replaced_fallback';

/**
 * What the provider reported for a call that was not billed as reported; kept in usage_review (never in budgets)
 * for finance to look at. `reported`: tollgate's four token kinds (over_bound), or the provider's own count fields
 * as they came (usage_invalid); `reported_cost`: what the reported usage would have cost (over_bound, priced).
 */
export type UsageReview = {
  reason: 'over_bound' | 'usage_invalid';
  reported: Record<string, unknown>;
  reported_cost: string | null;
  bound: { input_tokens: number; output_tokens: number };
};

/** One row of the append-only usage ledger (usage_events), as journaled and as written. */
export type UsageEvent = NormalizedUsage & {
  kind: 'usage';
  request_id: string;
  /** ISO-8601 time the call was received. */
  ts: string;
  bu_id: string;
  use_case_id: string;
  agent_id: string;
  session_id: string;
  /** The call that made this one (a tool call inside an agent's step), when the agent said so. */
  parent_request_id: string | null;
  provider: string;
  endpoint: string;
  model_requested: string;
  model_served: string;
  /** Exact decimal string; never a float. */
  cost: string;
  currency: string;
  /** The prices row used, or null when the served model had no price in force (cost is then an estimate). */
  price_id: number | null;
  /** The served model had no price in force: cost is the policy-allowed estimate (src/gateway/meter-call.ts). */
  cost_estimated?: boolean;
  /** Upstream HTTP status (or 499 when the client went away before the upstream answered). */
  status: number;
  /** true when the usage is incomplete: client disconnect, stream cut, upstream error mid-stream. */
  partial: boolean;
  latency_ms: number;
  decision_code: string;
  policy_revision: string;
  budget_tier: string;
  /**
   * Names of the tools the call declared or its answer called: sanitized, distinct, sorted, at most 64; absent
   * when none (and in records journaled before tools were metered). Names only, never arguments or text.
   */
  tools?: string[];
  /** Absent (null in the ledger) for an ordinary row. */
  flags?: UsageFlag[];
  /** Present when the call was not billed as the provider reported (written to usage_review with the row). */
  review?: UsageReview;
};

/**
 * One row of the decision log: a call the policy (or the gateway before it) denied. bu_id … session_id attribute
 * it, and only through an authenticated agent (src/gateway/decide.ts); what the caller claimed is in `claimed`.
 */
export type DecisionRecord = {
  kind: 'decision';
  request_id: string;
  ts: string;
  provider: string;
  endpoint: string;
  bu_id: string | null;
  use_case_id: string | null;
  agent_id: string | null;
  session_id: string | null;
  /** The tags and parent call id the caller sent, each checked at the edge (absent in records journaled before). */
  claimed?: ClaimedTags | null;
  model: string | null;
  allowed: boolean;
  http_status: number;
  code: string;
  message: string;
  reasons: { code: string; message: string }[];
  policy_revision: string | null;
  budget_tier: string;
};

/** A budget crossed a tier (50/80/100/110%): recorded once per budget, period, key and tier. */
export type TierRecord = {
  kind: 'tier';
  budget_id: number;
  period_start: string;
  /** The session id for session budgets, '' otherwise. */
  key: string;
  tier: 'notice' | 'warning' | 'soft_cap' | 'hard_cap';
  /** (spent + reserved) / limit when the tier was reached. */
  ratio: number;
  spent: number;
  limit: number;
  unit: 'usd' | 'tokens';
  request_id: string;
  ts: string;
};

/**
 * A call forwarded but not yet reported: kept (table inflight_calls) until its usage event is written. If
 * the process dies first, the fallback event (partial, status 0, the prompt estimate) is written once the
 * record expires, so a call that reached the provider is never missing from the ledger.
 */
export type InflightRecord = { kind: 'inflight'; request_id: string; ts: string; expires_at: string; fallback: UsageEvent };

export type JournalRecord = UsageEvent | DecisionRecord | TierRecord | InflightRecord;
