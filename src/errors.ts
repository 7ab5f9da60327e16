/**
 * The one catalogue of tollgate's error codes. Each code has one HTTP status and one default message;
 * test/unit/errors.test.ts checks that README's error table lists every code here, and that every code
 * the policy can return is here.
 */

export type ErrorDef = { status: number; message: string };

export const ERRORS = {
  // Identity (decided by the policy from the identity fact)
  missing_credential: { status: 401, message: 'No agent credential: send a tollgate agent key or a broker JWT as Authorization: Bearer or x-api-key.' },
  invalid_credential: { status: 401, message: 'The agent credential is not valid.' },
  revoked_credential: { status: 401, message: 'The agent key has been revoked.' },
  identity_unavailable: { status: 503, message: 'The credential could not be checked because the key store is unavailable.' },
  auth_rate_limited: { status: 429, message: 'Too many failed authentications from this address; retry after the time in Retry-After.' },
  // Tags
  missing_tag: { status: 400, message: 'A required tollgate tag is missing.' },
  conflicting_tag: { status: 400, message: 'A tag has different values in its x-tollgate-* header and in baggage, or is given twice with different values.' },
  invalid_tag: { status: 400, message: 'A tag or the parent call id is not 1 to 128 of A-Z a-z 0-9 _ . : -, or the baggage header is longer than 8192 bytes.' },
  unknown_bu: { status: 400, message: 'The business unit is not in the agent catalog.' },
  unknown_use_case: { status: 400, message: 'The use case is not in the agent catalog.' },
  use_case_bu_mismatch: { status: 400, message: 'The use case does not belong to the tagged business unit.' },
  unknown_agent: { status: 403, message: 'The credential names an agent the catalog does not know.' },
  agent_disabled: { status: 403, message: 'The agent is disabled in the catalog.' },
  agent_id_mismatch: { status: 403, message: 'The agent id tag does not match the agent the credential belongs to.' },
  agent_bu_mismatch: { status: 403, message: 'The agent does not belong to the tagged business unit.' },
  use_case_not_allowed: { status: 403, message: 'The agent is not allowed to work on the tagged use case.' },
  // Models
  missing_model: { status: 400, message: 'The request body names no model.' },
  unknown_model: { status: 400, message: 'The model is not in the catalog.' },
  model_provider_mismatch: { status: 400, message: 'The model is not served by this provider route.' },
  model_not_allowed: { status: 403, message: 'The agent is not allowed to use this model.' },
  model_not_priced: { status: 403, message: 'The model has no price in force, and the policy does not let this use case run it on an estimate.' },
  // Budgets
  budget_exhausted: { status: 429, message: 'The use case has reached its hard budget cap; calls are rejected until the budget is extended.' },
  session_budget_exhausted: { status: 429, message: 'The session has reached its cap (cost or number of calls); start a new session or raise the cap.' },
  budget_busy: { status: 429, message: 'The budget has room for this call only once calls in flight finish; retry shortly.' },
  budget_unavailable: { status: 503, message: 'The budget state is unavailable and the policy fails closed.' },
  // Gateway (decided before or around the policy, never instead of it)
  policy_unavailable: { status: 503, message: 'No valid policy is loaded; tollgate fails closed.' },
  invalid_request: { status: 400, message: 'The request is not valid: send a JSON object body with content-type application/json.' },
  request_timeout: { status: 408, message: 'The request was not received in time.' },
  headers_too_large: { status: 431, message: 'The request headers are too large.' },
  body_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_endpoint: { status: 404, message: 'tollgate does not forward this endpoint.' },
  method_not_allowed: { status: 405, message: 'Only POST is forwarded on this route.' },
  provider_not_configured: { status: 503, message: 'tollgate has no credential for this provider.' },
  upstream_unreachable: { status: 502, message: 'The provider could not be reached.' },
  upstream_auth_failed: { status: 502, message: 'tollgate could not obtain its own credential for the provider (its token endpoint or credential source failed).' },
  upstream_timeout: { status: 504, message: 'The provider did not answer in time.' },
  internal_error: { status: 500, message: 'tollgate failed to handle the request.' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** An error with a catalogued code; the message may be more specific than the default one. */
export class TollgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'TollgateError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}
