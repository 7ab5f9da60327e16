import type { ErrorShape } from '../types.js';

/** https://docs.anthropic.com/en/api/errors */
const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export function errorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** Anthropic's shape, plus `code`: tollgate's stable error code, which Anthropic's own errors lack. */
export function errorBody(err: ErrorShape): { type: 'error'; error: { type: string; message: string; code: string } } {
  return { type: 'error', error: { type: err.type ?? errorType(err.status), message: err.message, code: err.code } };
}
