import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';

/**
 * A Microsoft Entra ID authority for one app registration, as MSAL (under @azure/identity's ClientSecretCredential,
 * instance discovery off) uses it: it reads `/{tenant}/v2.0/.well-known/openid-configuration` (the issuer must be
 * on the authority's own host), then posts the client-credentials grant, form-encoded, to the token endpoint
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow). Errors are OAuth's,
 * with Entra's AADSTS codes. MSAL insists on HTTPS, so the authority serves TLS with the certificate given.
 */

export type EntraApp = { tenantId: string; clientId: string; clientSecret: string };
export type EntraOptions = EntraApp & { tls: { key: string; cert: string }; host?: string };

/** One token request as the authority read it (never the secret). */
export type TokenRequest = { tenant: string; grantType?: string; clientId?: string; scope?: string; status: number };

export type FakeEntra = {
  /** The authority host, e.g. https://127.0.0.1:54321 (the tenant is the path's first segment). */
  url: string;
  /** Live: every token request, in order. */
  tokenRequests: TokenRequest[];
  /** Whether a bearer token is one this authority issued for the scope and has not expired. */
  accepts(token: string, scope: string): boolean;
  close(): Promise<void>;
};

/** What Entra issues for an app's client credentials: an hour, less a little. */
const TOKEN_LIFETIME_S = 3599;

function oauthError(error: string, code: number, description: string) {
  return {
    error, error_description: `AADSTS${code}: ${description}`, error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z', trace_id: randomUuid(), correlation_id: randomUuid(),
  };
}

function randomUuid(): string {
  return globalThis.crypto.randomUUID();
}

export async function startFakeEntra(options: EntraOptions): Promise<FakeEntra> {
  const tokenRequests: TokenRequest[] = [];
  const issued = new Map<string, { scope: string; expiresAt: number }>();
  const app = Fastify({ logger: false, forceCloseConnections: true, https: options.tls });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const tenantOf = (params: unknown) => (params as { tenant: string }).tenant;

  app.get('/:tenant/v2.0/.well-known/openid-configuration', async (request, reply) => {
    const tenant = tenantOf(request.params);
    if (tenant !== options.tenantId) return reply.code(400).send(oauthError('invalid_tenant', 90002, `Tenant '${tenant}' not found.`));
    const base = `${url}/${tenant}`;
    return {
      issuer: `${base}/v2.0`, token_endpoint: `${base}/oauth2/v2.0/token`, authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      jwks_uri: `${url}/${tenant}/discovery/v2.0/keys`, end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'], subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'], tenant_region_scope: 'EU',
    };
  });

  app.post('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, string | undefined>;
    const entry: TokenRequest = { tenant: tenantOf(request.params), grantType: form.grant_type, clientId: form.client_id, scope: form.scope, status: 200 };
    tokenRequests.push(entry);
    const refusal = refuse(entry, form.client_secret);
    if (refusal !== null) {
      entry.status = refusal.status;
      return reply.code(refusal.status).send(refusal.json);
    }
    const token = randomBytes(32).toString('base64url');
    issued.set(token, { scope: form.scope!.replace(/\/\.default$/, ''), expiresAt: Date.now() + TOKEN_LIFETIME_S * 1000 });
    return { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, ext_expires_in: TOKEN_LIFETIME_S, access_token: token };
  });

  function refuse(entry: TokenRequest, secret: string | undefined): { status: number; json: unknown } | null {
    if (entry.tenant !== options.tenantId) return { status: 400, json: oauthError('invalid_request', 90002, `Tenant '${entry.tenant}' not found.`) };
    if (entry.grantType !== 'client_credentials') return { status: 400, json: oauthError('unsupported_grant_type', 70003, 'The app requested an unsupported grant type.') };
    if (entry.clientId !== options.clientId) return { status: 400, json: oauthError('unauthorized_client', 700016, `Application with identifier '${entry.clientId}' was not found in the directory.`) };
    if (secret !== options.clientSecret) return { status: 401, json: oauthError('invalid_client', 7000215, 'Invalid client secret provided.') };
    if (entry.scope === undefined || !entry.scope.endsWith('/.default')) return { status: 400, json: oauthError('invalid_scope', 1002012, 'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.') };
    return null;
  }

  const url = await app.listen({ port: 0, host: options.host ?? '127.0.0.1' });
  return {
    url,
    tokenRequests,
    accepts(token, scope) {
      const grant = issued.get(token);
      return grant !== undefined && grant.scope === scope && grant.expiresAt > Date.now();
    },
    close: () => app.close(),
  };
}
