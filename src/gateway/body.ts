import type { FastifyInstance } from 'fastify';
import secureJsonParse from 'secure-json-parse';
import { TollgateError } from '../errors.js';

/**
 * Nesting deeper than any agent request goes (messages → content parts is 5 levels; a tool's JSON schema with
 * twenty levels of nested objects is about 45), and far from where Node's JSON.stringify, which the forwarder
 * runs, overflows its stack (a few thousand levels).
 */
export const MAX_JSON_DEPTH = 128;

declare module 'fastify' {
  interface FastifyRequest {
    /** Bytes of the body as received, chunked or not (content-length may be absent or lie). */
    bodyBytes: number;
  }
}

/**
 * The gateway's own JSON parser: Fastify's (secure-json-parse, prototype poisoning refused) over the raw bytes,
 * so the prompt estimate counts the bytes actually received, and a body nested deeper than MAX_JSON_DEPTH is a
 * 400 before anything reads it. Registered in each provider's scope, so other routes keep Fastify's parser.
 */
export function ownJsonParser(scope: FastifyInstance): void {
  scope.decorateRequest('bodyBytes', 0);
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.bodyBytes = body.length;
    let value: unknown;
    try {
      value = parseBody(body);
    } catch (err) {
      return done(err as Error, undefined);
    }
    if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
      return done(new TollgateError('invalid_request', `invalid request: the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    }
    done(null, value);
  });
}

/**
 * JSON as Fastify parses it (secure-json-parse: a `__proto__` key or a `constructor.prototype` is refused, as
 * prototype poisoning), with a message that says which of the refusals it is.
 */
export function parseBody(body: Buffer): unknown {
  if (body.length === 0) throw new TollgateError('invalid_request', 'invalid request: the body is empty; send a JSON object');
  try {
    return secureJsonParse(body, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    if (/prototype property/.test((err as Error).message)) {
      throw new TollgateError('invalid_request', 'invalid request: the body has a "__proto__" key or a "constructor" with a "prototype", which tollgate refuses (prototype poisoning)');
    }
    throw new TollgateError('invalid_request', 'invalid request: the body is not valid JSON');
  }
}

/** Walks the parsed value (never the text), and no deeper than `limit`: the recursion is bounded by it. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeperThan(item, limit - 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  return false;
}
