import type { ErrorShape } from '../types.js';

/** https://platform.openai.com/docs/guides/error-codes — OpenAI names few types; these follow its SDK's status classes. */
const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function errorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
}

export function errorBody(err: ErrorShape): { error: { message: string; type: string; param: null; code: string } } {
  return { error: { message: err.message, type: err.type ?? errorType(err.status), param: null, code: err.code } };
}
