import type { ReportProvider } from '../config.js';

/**
 * What the providers' usage and cost reports say, read into one shape (per provider: openai.ts, anthropic.ts),
 * and the rows a run stores (merge.ts). Days are UTC, YYYY-MM-DD; money is an exact decimal string in USD.
 */

export type { ReportProvider };
export const REPORT_PROVIDERS: readonly ReportProvider[] = ['openai', 'anthropic'];

export type ReportKind = 'usage' | 'cost';

/** Tokens of one group, in tollgate's four disjoint kinds (as the ledger counts them). */
export type Tokens = { input: number; cachedInput: number; cacheWrite: number; output: number };

/** One usage result: tokens of a day × key × scope × model; `byType` per the provider's billing token types. */
export type UsageItem = {
  day: string;
  apiKeyId: string | null;
  scopeId: string | null;
  model: string | null;
  tokens: Tokens;
  requests: number;
  byType: Readonly<Record<string, number>>;
};

/** One cost result. `model` is null for a cost that is not a model's tokens (then `label` says what it is). */
export type CostItem = {
  day: string;
  apiKeyId: string | null;
  scopeId: string | null;
  model: string | null;
  label: string;
  /** The billing token type it prices (Anthropic's description grouping), when the report says. */
  tokenType: string | null;
  usd: string;
};

/** One page of a report, read: the days of its buckets and their results. */
export type ReportPage = { kind: ReportKind; days: string[]; usage: UsageItem[]; cost: CostItem[]; hasMore: boolean; nextPage: string | null };

export type CostSource = 'reported' | 'allocated' | 'usage_only';

/** A stored row (shadow_report_rows): the provider's figures for a day × model × key × scope. */
export type ReportRow = {
  day: string;
  model: string;
  reportedModel: string;
  apiKeyId: string;
  scopeId: string;
  cost: string;
  costSource: CostSource;
  tokens: Tokens;
  requests: number;
};

export const NO_TOKENS: Tokens = Object.freeze({ input: 0, cachedInput: 0, cacheWrite: 0, output: 0 });

export class ReportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReportError';
  }
}
