import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { importOutcomeLines, jsonArrayLines, OutcomeImportError, type OutcomeFormat } from './outcome-import.js';
import { upsertOutcomePoints, useCaseOutcomes } from '../db/outcomes.js';
import { callerFrom } from '../graphql/caller.js';
import { authorize, ownBu, type Caller } from '../graphql/access.js';
import { AnalyticsError, GQL_ERRORS } from '../graphql/errors.js';

/**
 * POST /v1/outcomes: bulk outcome points, with the same API tokens as GraphQL. CSV (`text/csv`, header
 * use_case,metric,ts,value) and JSON lines (`application/x-ndjson`) are read as a stream, line by line, and
 * written in batches of 5,000, so a large file never sits in memory; a JSON array (`application/json`) is
 * bounded by the body limit. Answers the counts and the line numbers of rejected records.
 * Roles with outcomes:write (src/graphql/access.ts) write within their scope: a BU owner only its BU's use
 * cases; another BU's are rejected line by line exactly as unknown ones, so nothing tells them apart.
 */
export async function outcomeRoutes(app: FastifyInstance, opts: { db: Knex }): Promise<void> {
  // Encapsulated: these parsers hand the raw stream over and must not reach the gateway's routes.
  app.addContentTypeParser(['text/csv', 'application/x-ndjson', 'application/jsonl'], (_req, payload, done) => done(null, payload));
  app.setErrorHandler(async (err: Error & { statusCode?: number }, request, reply) => {
    if (err instanceof AnalyticsError) return reply.code(GQL_ERRORS[err.code].status).send({ error: { code: err.code, message: err.message } });
    if (err instanceof OutcomeImportError) return reply.code(400).send({ error: { code: 'BAD_USER_INPUT', message: err.message } });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: { code: 'BAD_USER_INPUT', message: err.message } });
    request.log.error({ err }, 'outcome import failed');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: GQL_ERRORS.INTERNAL.message } });
  });

  app.post('/v1/outcomes', async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = authorize(await callerFrom(opts.db, request), 'outcomes:write');
    const useCases = await writableUseCases(opts.db, caller);
    // No await between opening the line reader and iterating it: readline drops lines emitted before then.
    const { format, lines } = bodyLines(request);
    const result = await importOutcomeLines(lines, {
      format,
      useCases,
      source: `http:${caller.tokenId}`,
      write: (batch) => upsertOutcomePoints(opts.db, batch),
    });
    return reply.send(result);
  });
}

function bodyLines(request: FastifyRequest): { format: OutcomeFormat; lines: AsyncIterable<string> | Iterable<string> } {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return { format: 'jsonl', lines: jsonArrayLines(request.body) };
  const lines = readline.createInterface({ input: request.body as Readable, crlfDelay: Infinity });
  return { format: type === 'text/csv' ? 'csv' : 'jsonl', lines };
}

async function writableUseCases(db: Knex, caller: Caller): Promise<Set<string>> {
  const all = [...(await useCaseOutcomes(db)).values()];
  const own = ownBu(caller);
  return new Set(all.filter((u) => own === undefined || u.bu_id === own).map((u) => u.id));
}
