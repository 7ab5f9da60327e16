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
 * Google's error shape, `{ error: { code, message, status, details } }`; tollgate's stable code is the reason of
 * a google.rpc.ErrorInfo in details, as Google puts its own (API_KEY_INVALID…), in domain tollgate.
 */
export function errorBody(err: ErrorShape): unknown {
  return {
    error: {
      code: err.status,
      message: err.message,
      status: rpcStatus(err.status),
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: err.code, domain: 'tollgate' }],
    },
  };
}
