import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { ERRORS } from '../errors.js';

/**
 * Errors Node raises before a request reaches a route (a request not received within TOLLGATE_REQUEST_TIMEOUT_MS,
 * headers too large, a malformed request): the route, and so the provider, is not known yet, so the body has
 * both providers' shapes at once ({"type":"error","error":{message, type, param, code}}), which either SDK reads
 * as its own, with tollgate's code. The connection is closed after it, as Node does.
 */
export function clientErrorHandler(this: { log: FastifyBaseLogger }, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'invalid_request';
  const { status, message } = ERRORS[code];
  if (code === 'request_timeout') this.log.info({ code, remote: socket.remoteAddress }, 'request not received in time; connection closed');
  else this.log.debug({ err, code }, 'client error');
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const body = JSON.stringify({ type: 'error', error: { message, type: 'invalid_request_error', param: null, code } });
    socket.write(`HTTP/1.1 ${status} ${reason(status)}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-tollgate-error-code: ${code}\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

function reason(status: number): string {
  return ({ 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' } as Record<number, string>)[status] ?? 'Error';
}
