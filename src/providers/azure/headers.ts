import { rootCertificates } from 'node:tls';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { EntraSettings, ProviderSettings } from '../../config.js';
import type { HeaderRules, UpstreamSigner } from '../types.js';

/**
 * As OpenAI's (src/providers/openai/headers.ts), with Azure's own: tollgate's key goes up in `api-key`
 * (https://learn.microsoft.com/azure/ai-foundry/openai/reference#authentication), or its Entra token in
 * Authorization (entraSigner below, set by the gateway over every other header); the agent's `api-key` or
 * Authorization (its tollgate credential) never does. Answers pass Azure's request ids and rate limits back,
 * never anything naming the resource's account (azureml-model-session, x-ms-region are dropped).
 */
const REQUEST = ['accept', 'user-agent', 'x-stainless-retry-count', 'x-stainless-timeout'];
const RESPONSE = [
  'content-type', 'content-length', 'content-encoding', 'cache-control', 'x-request-id', 'apim-request-id',
  'retry-after', 'retry-after-ms', 'x-should-retry',
];

export function headerRules(settings: ProviderSettings): HeaderRules {
  const set: Record<string, string> = {};
  if (settings.apiKey) set['api-key'] = settings.apiKey;
  return { request: REQUEST, requestLists: {}, set, response: RESPONSE, responsePrefixes: ['x-ratelimit-'] };
}

/** The scope of Azure OpenAI's data plane (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/managed-identity). */
export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

/**
 * The agent's call waits on a token fetch: a couple of quick retries ride out a blip of the token endpoint, more
 * would hold the call for seconds before it is refused (the library's default is 3 retries from 800 ms).
 */
const TOKEN_RETRIES = Object.freeze({ maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500 });

/** When a token says nothing of when to renew it, renew it this long before it expires (MSAL's own margin). */
const RENEW_BEFORE_EXPIRY_MS = 5 * 60_000;
/** A token this close to expiry is not sent: it could expire before the upstream reads it. */
const EXPIRY_SKEW_MS = 10_000;

/**
 * tollgate's own Microsoft Entra ID token for Azure OpenAI, sent as `Authorization: Bearer` in place of the
 * resource's key. The token endpoint sees one request per token lifetime, not one per call (tokenReuse).
 * Instance discovery is off: the authority host is the one configured (a sovereign or private cloud's own),
 * never looked up elsewhere. A key, when set, wins: no signer then.
 */
export function entraSigner(settings: ProviderSettings): UpstreamSigner | null {
  const entra = settings.entra;
  if (settings.apiKey || entra === undefined) return null;
  let credential: Promise<TokenCredential> | undefined;
  const token = tokenReuse(async () => {
    // Loaded on first use: a gateway on an Azure key (or none) never loads the identity library.
    credential ??= credentialFor(entra);
    const fetched = await (await credential).getToken(COGNITIVE_SERVICES_SCOPE);
    if (fetched === null) throw new Error('the Entra credential returned no token');
    return fetched;
  });
  return async () => ({ authorization: `Bearer ${await token()}` });
}

/**
 * One token for every call: reused while it is valid, so a call costs no credential lookup. Renewal is one fetch
 * however many calls ask (a burst of first calls included, which the credential alone would each send to the
 * token endpoint); once the token is due for renewal, calls keep it while the new one comes, and a failed
 * renewal is tried again by the next call. Only a call with no valid token waits for the fetch, and fails with it.
 */
export function tokenReuse(fetch: () => Promise<AccessToken>, now: () => number = Date.now): () => Promise<string> {
  let current: AccessToken | undefined;
  let pending: Promise<AccessToken> | undefined;
  const renew = (): Promise<AccessToken> => {
    pending ??= fetch().then((token) => (current = token)).finally(() => (pending = undefined));
    return pending;
  };
  return async () => {
    const at = now();
    if (current !== undefined && at < current.expiresOnTimestamp - EXPIRY_SKEW_MS) {
      if (at >= (current.refreshAfterTimestamp ?? current.expiresOnTimestamp - RENEW_BEFORE_EXPIRY_MS)) renew().catch(() => {});
      return current.token;
    }
    return (await renew()).token;
  };
}

async function credentialFor(entra: EntraSettings): Promise<TokenCredential> {
  const { ClientSecretCredential } = await import('@azure/identity');
  return new ClientSecretCredential(entra.tenantId, entra.clientId, entra.clientSecret, {
    authorityHost: entra.authorityHost,
    disableInstanceDiscovery: true,
    retryOptions: TOKEN_RETRIES,
    // Extra CAs are added to the public ones (the option alone would replace them).
    ...(entra.authorityCa === undefined ? {} : { tlsOptions: { ca: [...rootCertificates, entra.authorityCa] } }),
  });
}
