/**
 * The contract between TypeScript (which gathers facts) and the Rego policy (which decides).
 * schema/policy-input.schema.json describes the same shape for policy authors.
 */

export type CredentialKind = 'agent_key' | 'jwt' | 'none';

export type IdentityFact = {
  /** true when the credential verified; the policy turns a false here into a 401. */
  authenticated: boolean;
  kind: CredentialKind;
  /** The agent the credential names (only when authenticated). */
  agent_id?: string;
  /** Why authentication failed: missing | malformed | unknown_key | revoked | invalid_jwt | expired_jwt. */
  failure?: string;
};

export type TagsFact = {
  bu?: string;
  use_case?: string;
  agent_id?: string;
  session_id?: string;
  /** Tag names given twice (header and baggage) with different values. */
  conflicts?: string[];
};

export type CatalogFact = {
  /** null when the tag names no BU the catalog knows. */
  bu: { id: string } | null;
  use_case: { id: string; bu_id: string; class: string } | null;
  agent: { id: string; bu_id: string; status: string; use_cases: string[]; models: string[] } | null;
  /**
   * The requested model as the catalog names it (an alias or dated snapshot resolves to its catalog model),
   * null when the catalog does not know it. `priced`: a price is in force for it now. `canonical`: for a vendor's
   * model (azure/gpt-4.1), the model it is (gpt-4.1): an agent allowed that one may use it.
   */
  model: { id: string; provider: string; priced?: boolean; canonical?: string } | null;
  /** The next cheaper model on the catalog's downgrade ladder, if the requested model has one. */
  cheaper_model: { id: string; provider: string; priced?: boolean; canonical?: string } | null;
};

export type BudgetScope = 'use_case' | 'bu' | 'agent' | 'session';

/** One budget that applies to the call, with its state in the current period (before this call). */
export type BudgetFact = {
  id: number;
  scope: BudgetScope;
  /** The use case, BU or agent id; for session budgets the use case whose sessions it caps, or '*'. */
  scope_id: string;
  unit: 'usd' | 'tokens';
  /** The limit in `unit`; null for a session budget that only caps the number of calls. */
  limit: number | null;
  /** Session budgets only: the most calls one session may make in the period. */
  max_calls: number | null;
  period: 'day' | 'week' | 'month' | 'quarter';
  period_start: string;
  /** Spend recorded in the ledger for this period, in `unit`. */
  spent: number;
  /** Reserved by other calls in flight (this call's own reservation excluded). */
  reserved: number;
  /** Calls already counted in this period (this call excluded); for session budgets, the session's calls. */
  calls: number;
};

/**
 * `available`: whether the budget state could be read; when not, `budgets` holds the last known state plus local
 * spend.
 * `retry_after_ms`: when a call refused as busy (room held by calls in flight) may find room again, as this replica
 * sees it: about a recent call's length plus a metering flush (src/budgets/gate.ts busyRetryAfterMs). The policy
 * tells the client no sooner than its own configured floor.
 */
export type BudgetStateFact = { available: boolean; retry_after_ms?: number };

export type PolicyInput = {
  request: {
    id: string;
    provider: string;
    endpoint: string;
    model?: string;
    stream: boolean;
  };
  identity: IdentityFact;
  tags: TagsFact;
  catalog: CatalogFact;
  /** Every budget that applies (use case, BU, agent, session); empty when none does. */
  budgets: BudgetFact[];
  budget_state: BudgetStateFact;
  /**
   * The call's worst case: prompt estimate plus requested output for every answer. `output_tokens` is the output
   * limit per answer the request asked for (or the default), `choices` the answers it asks for (OpenAI chat `n`,
   * else 1); `tokens` and `cost` count the output once per answer. The unit costs let the policy clamp the limit
   * per answer to what a budget has left.
   */
  estimate: {
    input_tokens: number;
    output_tokens: number;
    choices: number;
    /** The least output limit per answer that keeps the request valid (Anthropic extended thinking: 1,025); absent means 1. */
    min_output_tokens?: number;
    tokens: number;
    cost: number;
    input_cost: number;
    output_cost_per_token: number;
  };
  now: string;
};

export type BudgetTier = 'none' | 'ok' | 'notice' | 'warning' | 'soft_cap' | 'hard_cap' | 'unknown';

export type Decision = {
  allowed: boolean;
  http_status: number;
  code: string;
  message: string;
  tier: BudgetTier;
  /** Roles to notify about this call's tier: owner, finance. */
  notify: string[];
  /** The model to serve (the requested one, or a cheaper one at the soft cap). */
  model: string | null;
  /** When set, the output limit the call must be clamped to so that no hard cap can be passed. */
  max_output_tokens: number | null;
  /**
   * Each applicable budget (in input order) with its tier and ratio: (spent + reserved) / limit; for a session
   * budget the larger of that and calls / max_calls, and a tier of hard_cap when it stops this call, else none.
   * ratio is null when there is no positive limit to divide by (a limit <= 0 is at the hard cap).
   */
  budgets: { id: number; scope: BudgetScope; tier: BudgetTier; ratio: number | null }[];
  headers: Record<string, string>;
  /**
   * Every violation, highest precedence first; then notes that qualify the decision without denying it
   * (today only budget_state_local: the budget state was unavailable and the use case failed open).
   */
  reasons: { code: string; message: string }[];
};

export type Evaluation = {
  decision: Decision;
  revision: string;
  /** Microseconds spent in the WASM evaluation. */
  micros: number;
};
