import type { FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { findActiveApiToken, hashApiToken, looksLikeApiToken } from '../db/api-tokens.js';
import type { Caller } from './access.js';

/**
 * The caller an API token names, for every surface that takes one (GraphQL over HTTP and WebSocket, the
 * reports, the outcomes route, /metrics). When the database cannot be read, a token this process has seen
 * active keeps its last answer (a revocation made meanwhile waits for the database, as for agent keys):
 * a Prometheus scrape then still sees the meter's backlog while Postgres is away.
 */

const lastSeen = new WeakMap<Knex, Map<string, Caller>>();
const MAX_REMEMBERED = 10_000;

/** From an `Authorization` value (`Bearer tga_…`); null when missing, malformed, unknown or revoked. */
export async function callerOfAuthorization(db: Knex, authorization: unknown): Promise<Caller | null> {
  const m = /^Bearer\s+(\S+)$/i.exec(typeof authorization === 'string' ? authorization : '');
  if (!m || !looksLikeApiToken(m[1]!)) return null;
  const hash = hashApiToken(m[1]!);
  const seen = lastSeen.get(db) ?? new Map<string, Caller>();
  lastSeen.set(db, seen);
  let row;
  try {
    row = await findActiveApiToken(db, hash);
  } catch (err) {
    const known = seen.get(hash);
    if (known) return known;
    throw err;
  }
  if (!row) {
    seen.delete(hash);
    return null;
  }
  const caller: Caller = { tokenId: row.id, role: row.role, buId: row.bu_id };
  if (seen.size >= MAX_REMEMBERED) seen.clear();
  seen.set(hash, caller);
  return caller;
}

export function callerFrom(db: Knex, request: FastifyRequest): Promise<Caller | null> {
  return callerOfAuthorization(db, request.headers.authorization);
}
