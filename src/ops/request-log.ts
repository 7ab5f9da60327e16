import { LogController, type FastifyRequest } from 'fastify';

/**
 * Request log lines carry the path and the names of the query's parameters, never their values: a caller
 * may put a token in the query (`?api_key=…`), and URLs reach every log line about a request. A name that
 * does not look like one (longer than 32 characters, or with other characters: perhaps a bare token) is
 * written as `[redacted]` too.
 */

const NAME = /^[A-Za-z0-9_.[\]-]{1,32}$/;

export function loggableUrl(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  if (q < 0) return url;
  const names = url.slice(q + 1).split('&').filter((p) => p !== '').map((p) => {
    const name = p.split('=', 1)[0]!;
    return NAME.test(name) ? name : '[redacted]';
  });
  return `${url.slice(0, q)}?${names.join('&')}`;
}

/** Fastify's request serializer with the URL as loggableUrl writes it. */
export const LOG_SERIALIZERS = {
  req(req: FastifyRequest) {
    return { method: req.method, url: loggableUrl(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
  },
};

/** Fastify's own "Route … not found" line prints the raw URL; this one prints it as loggableUrl does. */
export class RequestLogController extends LogController {
  override routeNotFound(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.info(`Route ${request.raw.method}:${loggableUrl(request.raw.url)} not found`);
  }
}
