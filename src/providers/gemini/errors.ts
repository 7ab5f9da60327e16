import type { ErrorShape } from '../types.js';

/** google.rpc.Code names by HTTP status (https://cloud.google.com/apis/design/errors#handling_errors). */
const STATUS_BY_HTTP: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'INVALID_ARGUMENT',
  408: 'DEADLINE_EXCEEDED', 409: 'ABORTED', 413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 431: 'INVALID_ARGUMENT',
  499: 'CANCELLED', 500: 'INTERNAL', 501: 'UNIMPLEMENTED', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

export function rpcStatus(status: number): string {
  return STATUS_BY_HTTP[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

/**
 * Refusals that retrying cannot lift (a hard cap holds until the budget is extended or its period rolls over):
 * besides the ErrorInfo, they carry what Google's clients read as a quota that will not come back soon, a
 * google.rpc.QuotaFailure naming tollgate's budget and a google.rpc.RetryInfo longer than a client waits on its
 * own. Gemini CLI, for one, stops at a 429 whose RetryInfo is over 300 s instead of retrying it ten times over
 * minutes (its classifyGoogleError). budget_busy (room held by calls in flight) carries neither: it is retried.
 */
const TERMINAL: Readonly<Record<string, string>> = { budget_exhausted: 'use case budget', session_budget_exhausted: 'session cap' };
/** An hour: far beyond a client's own retry horizon, and a hint to look again later rather than in a loop. */
const TERMINAL_RETRY_DELAY = '3600s';

/**
 * Google's error shape, `{ error: { code, message, status, details } }`; tollgate's stable code is the reason of
 * a google.rpc.ErrorInfo in details, as Google puts its own (API_KEY_INVALID…), in domain tollgate.
 */
export function errorBody(err: ErrorShape): unknown {
  const details: object[] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: err.code, domain: 'tollgate' }];
  const quota = TERMINAL[err.code];
  if (quota !== undefined) {
    details.push(
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ subject: `tollgate ${quota}`, description: err.message, quotaId: `tollgate-${err.code}` }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: TERMINAL_RETRY_DELAY },
    );
  }
  return { error: { code: err.status, message: err.message, status: rpcStatus(err.status), details } };
}
