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
  /** The requested model, null when the catalog does not know it. */
  model: { id: string; provider: string } | null;
  /** The next cheaper model on the catalog's downgrade ladder, if the requested model has one. */
  cheaper_model: { id: string; provider: string } | null;
};

export type BudgetFact = {
  /** false when the budget state could not be read (database away). */
  available: boolean;
  limit?: number;
  spent?: number;
  unit?: 'usd' | 'tokens';
  period_start?: string;
};

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
  /** null when the use case has no budget. */
  budget: BudgetFact | null;
  estimate: { tokens: number; cost: number };
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
  headers: Record<string, string>;
  reasons: { code: string; message: string }[];
};

export type Evaluation = {
  decision: Decision;
  revision: string;
  /** Microseconds spent in the WASM evaluation. */
  micros: number;
};
