import type { ErrorShape } from '../types.js';

/**
 * Bedrock's error shape: `{ "message": … }`, the exception's name in x-amzn-errortype
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html), which the AWS SDK reads to name the
 * error it throws and to decide whether to retry: it retries 429 and ThrottlingException, and 5xx, never a 400
 * (@smithy/service-error-classification). So the hard caps, which retrying cannot help, leave as 400
 * ServiceQuotaExceededException; budget_busy stays 429 ThrottlingException, which it retries. Credential refusals
 * are 403 AccessDeniedException, as Bedrock answers them; tollgate's own code is beside the message.
 */
const NO_RETRY_CODES = new Set(['budget_exhausted', 'session_budget_exhausted']);
const NAMESPACE = ':http://internal.amazon.com/coral/com.amazon.bedrock/';

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'ValidationException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException', 405: 'ValidationException',
  408: 'ModelTimeoutException', 413: 'ValidationException', 429: 'ThrottlingException', 431: 'ValidationException',
  500: 'InternalServerException', 502: 'ServiceUnavailableException', 503: 'ServiceUnavailableException', 504: 'ModelTimeoutException',
};

export function errorReply(err: ErrorShape): { status: number; headers: Record<string, string> } {
  const status = NO_RETRY_CODES.has(err.code) ? 400 : err.status === 401 ? 403 : err.status;
  const type = NO_RETRY_CODES.has(err.code) ? 'ServiceQuotaExceededException' : (TYPE_BY_STATUS[status] ?? (status >= 500 ? 'InternalServerException' : 'ValidationException'));
  return { status, headers: { 'x-amzn-errortype': `${type}${NAMESPACE}` } };
}

export function errorBody(err: ErrorShape): unknown {
  return { message: err.message, code: err.code };
}
