import type { IncomingHttpHeaders } from 'node:http';
import type { Db } from '../db/knex.js';
import { findAgentKeyByHash } from '../db/agent-keys.js';
import type { IdentityFact } from '../policy/types.js';
import { hashAgentKey, looksLikeAgentKey, looksLikeJwt } from './keys.js';
import type { JwtVerifier } from './jwt.js';

/** The headers that may carry an agent credential; the gateway strips all of them before forwarding. */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key'] as const;

export type Authenticator = (headers: IncomingHttpHeaders) => Promise<IdentityFact>;

export function readCredential(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.trim() !== '') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : auth.trim();
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.trim() !== '' ? apiKey.trim() : undefined;
}

/**
 * Resolves the credential to an identity fact; the policy decides what a failed one means. Agent-key
 * lookups are cached for `cacheMs`, which is how long a revocation may take to reach this replica.
 */
export function createAuthenticator(opts: { db: Db; verifyJwt: JwtVerifier; cacheMs: number }): Authenticator {
  const cache = new Map<string, { fact: IdentityFact; expires: number }>();

  async function byAgentKey(key: string): Promise<IdentityFact> {
    const hash = hashAgentKey(key);
    const hit = cache.get(hash);
    if (hit && hit.expires > Date.now()) return hit.fact;
    let row;
    try {
      row = await findAgentKeyByHash(opts.db, hash);
    } catch {
      // The key store is away: a key seen recently keeps its last answer (a revocation made meanwhile
      // waits for the store); an unseen key cannot be checked, and the policy says what that means.
      return hit?.fact ?? { authenticated: false, kind: 'agent_key', failure: 'unavailable' };
    }
    const fact: IdentityFact = !row
      ? { authenticated: false, kind: 'agent_key', failure: 'unknown_key' }
      : row.revoked_at
        ? { authenticated: false, kind: 'agent_key', failure: 'revoked' }
        : { authenticated: true, kind: 'agent_key', agent_id: row.agent_id };
    if (opts.cacheMs > 0) {
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, { fact, expires: Date.now() + opts.cacheMs });
    }
    return fact;
  }

  return async (headers) => {
    const token = readCredential(headers);
    if (!token) return { authenticated: false, kind: 'none', failure: 'missing' };
    if (looksLikeAgentKey(token)) return byAgentKey(token);
    if (looksLikeJwt(token)) {
      const r = await opts.verifyJwt(token);
      return r.ok ? { authenticated: true, kind: 'jwt', agent_id: r.agentId } : { authenticated: false, kind: 'jwt', failure: r.failure };
    }
    return { authenticated: false, kind: 'agent_key', failure: 'malformed' };
  };
}
