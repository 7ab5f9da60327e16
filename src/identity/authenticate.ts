import type { IncomingHttpHeaders } from 'node:http';
import type { Db } from '../db/knex.js';
import { findAgentKeyByHash } from '../db/agent-keys.js';
import type { IdentityFact } from '../policy/types.js';
import { hashAgentKey, looksLikeAgentKey, looksLikeJwt } from './keys.js';
import type { JwtVerifier } from './jwt.js';
import type { AuthFailureLimit } from './failure-limit.js';

/**
 * The headers that may carry an agent credential, in the order they are read: Bearer (OpenAI, broker JWTs),
 * x-api-key (Anthropic), api-key (Azure OpenAI), x-goog-api-key (Gemini). None is forwarded (the allowlists).
 */
export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key'] as const;

/** The source has failed to authenticate too often: refused without checking the credential. */
export type RateLimited = { rateLimited: true; retryAfterS: number };

/** `source` is the caller's address, for the per-address limit on failed authentications. */
export type Authenticator = (headers: IncomingHttpHeaders, source: string) => Promise<IdentityFact | RateLimited>;

type Log = { warn(obj: object, msg: string): void };

const KEY_HEADERS = CREDENTIAL_HEADERS.slice(1);

export function readCredential(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.trim() !== '') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : auth.trim();
  }
  for (const name of KEY_HEADERS) {
    const key = headers[name];
    if (typeof key === 'string' && key.trim() !== '') return key.trim();
  }
  return undefined;
}

/**
 * Resolves the credential to an identity fact; the policy decides what a failed one means. Agent-key
 * lookups are cached for `cacheMs`, which is how long a revocation may take to reach this replica. A source
 * past its failure limit gets `RateLimited` for any credential that has not authenticated before.
 */
export function createAuthenticator(opts: { db: Db; verifyJwt: JwtVerifier; cacheMs: number; failures: AuthFailureLimit; log: Log }): Authenticator {
  const cache = new Map<string, { fact: IdentityFact; expires: number }>();

  async function byAgentKey(hash: string): Promise<IdentityFact> {
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

  async function verify(token: string | undefined, fingerprint: string | undefined): Promise<IdentityFact> {
    if (!token) return { authenticated: false, kind: 'none', failure: 'missing' };
    if (looksLikeAgentKey(token)) return byAgentKey(fingerprint!);
    if (looksLikeJwt(token)) {
      const r = await opts.verifyJwt(token);
      return r.ok ? { authenticated: true, kind: 'jwt', agent_id: r.agentId } : { authenticated: false, kind: 'jwt', failure: r.failure };
    }
    return { authenticated: false, kind: 'agent_key', failure: 'malformed' };
  }

  return async (headers, source) => {
    const token = readCredential(headers);
    // An agent key's stored hash; any credential is remembered by the same sha256, never as itself.
    const fingerprint = token === undefined ? undefined : hashAgentKey(token);
    const wait = opts.failures.retryAfter(source);
    if (wait > 0 && !(fingerprint !== undefined && opts.failures.isTrusted(fingerprint))) return { rateLimited: true, retryAfterS: wait };
    const fact = await verify(token, fingerprint);
    if (fact.authenticated) opts.failures.trust(fingerprint!);
    // A key store that is away is not the caller's failure.
    else if (fact.failure !== 'unavailable' && opts.failures.failed(source)) {
      opts.log.warn({ source, retry_after_s: opts.failures.retryAfter(source) }, 'too many failed authentications from this address: unknown credentials refused until the window ends');
    }
    return fact;
  };
}
