import { createRemoteJWKSet, jwtVerify, errors as joseErrors } from 'jose';
import type { Config } from '../config.js';

export type JwtResult = { ok: true; agentId: string } | { ok: false; failure: string };
export type JwtVerifier = (token: string) => Promise<JwtResult>;

/**
 * Verifies identity-broker JWTs against the broker's JWKS (fetched and cached by jose). jose checks exp
 * only when the token has one, so it is required here: a leaked token without it would never expire.
 */
export function createJwtVerifier(cfg: Config['jwt']): JwtVerifier {
  if (!cfg.jwksUrl) return async () => ({ ok: false, failure: 'jwt_not_configured' });
  const jwks = createRemoteJWKSet(new URL(cfg.jwksUrl));
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer: cfg.issuer, audience: cfg.audience, requiredClaims: ['exp'] });
      const agentId = payload[cfg.agentClaim];
      if (typeof agentId !== 'string' || agentId === '') return { ok: false, failure: 'missing_agent_claim' };
      return { ok: true, agentId };
    } catch (err) {
      return { ok: false, failure: err instanceof joseErrors.JWTExpired ? 'expired_jwt' : 'invalid_jwt' };
    }
  };
}
