import type { FastifyReply } from 'fastify';
import type { ProviderAdapter } from '../providers/types.js';

export type ErrorReply = { status: number; code: string; message: string; headers?: Record<string, string> };

/** Every rejection leaves in the caller's own provider error shape, with tollgate's stable code. */
export function sendProviderError(reply: FastifyReply, adapter: ProviderAdapter, err: ErrorReply): FastifyReply {
  return reply
    .code(err.status)
    .headers({ ...err.headers, 'x-tollgate-error-code': err.code })
    .type('application/json')
    .send(adapter.errorBody({ status: err.status, code: err.code, message: err.message }));
}
