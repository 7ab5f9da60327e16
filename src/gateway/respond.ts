import type { FastifyReply } from 'fastify';
import type { ProviderAdapter } from '../providers/types.js';

export type ErrorReply = { status: number; code: string; message: string; headers?: Record<string, string> };

/** The status a refusal leaves with at this provider, and the headers its SDK reads (src/providers/types.ts errorReply). */
export function providerStatus(adapter: ProviderAdapter, err: ErrorReply): { status: number; headers: Record<string, string> } {
  return adapter.errorReply?.(err) ?? { status: err.status, headers: {} };
}

/** Every rejection leaves in the caller's own provider error shape, with tollgate's stable code. */
export function sendProviderError(reply: FastifyReply, adapter: ProviderAdapter, err: ErrorReply): FastifyReply {
  const shaped = providerStatus(adapter, err);
  return reply
    .code(shaped.status)
    .headers({ ...err.headers, ...shaped.headers, 'x-tollgate-error-code': err.code })
    .type('application/json')
    .send(adapter.errorBody({ status: err.status, code: err.code, message: err.message }));
}
