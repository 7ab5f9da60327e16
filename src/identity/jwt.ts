import { createRemoteJWKSet, jwtVerify, errors as joseErrors } from 'jose';
import type { Config } from '../config.js';
import { ID_PATTERN } from '../ids.js';

export type JwtResult = { ok: true; agentId: string } | { ok: false; failure: string };
export type JwtVerifier = (token: string) => Promise<JwtResult>;

/**
 * Verifies identity-broker JWTs against the broker's JWKS (fetched and cached by jose). jose checks exp only
 * when the token has one, so it is required: a leaked token without it would never expire. iat is required
 * too, and a token is refused when it was issued for longer than `maxLifetimeS` (exp − iat) or is older than
 * that (jose's maxTokenAge), so a leaked ten-year token is worth no more than a short one.
 */
export function createJwtVerifier(cfg: Config['jwt']): JwtVerifier {
  if (!cfg.jwksUrl) return async () => ({ ok: false, failure: 'jwt_not_configured' });
  const jwks = createRemoteJWKSet(new URL(cfg.jwksUrl));
  const options = { issuer: cfg.issuer, audience: cfg.audience, requiredClaims: ['exp', 'iat'], maxTokenAge: cfg.maxLifetimeS };
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, jwks, options);
      if (payload.exp! - payload.iat! > cfg.maxLifetimeS) return { ok: false, failure: 'jwt_lifetime_too_long' };
      const agentId = payload[cfg.agentClaim];
      if (typeof agentId !== 'string' || agentId === '') return { ok: false, failure: 'missing_agent_claim' };
      // It attributes the call (ledger, decision log) like a tag, so it has a tag's shape.
      if (!ID_PATTERN.test(agentId)) return { ok: false, failure: 'invalid_agent_claim' };
      return { ok: true, agentId };
    } catch (err) {
      return { ok: false, failure: err instanceof joseErrors.JWTExpired ? 'expired_jwt' : 'invalid_jwt' };
    }
  };
}
