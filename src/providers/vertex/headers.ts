import fs from 'node:fs';
import { JWT } from 'google-auth-library';
import type { ProviderSettings } from '../../config.js';
import type { HeaderRules, UpstreamSigner } from '../types.js';

/**
 * Requests: what the SDKs need (x-goog-api-client names @google/genai, the x-stainless hints the Anthropic SDK).
 * tollgate's OAuth token goes up in Authorization, set by its signer (below); never the agent's credential (its
 * tollgate key, in the same header), nor x-goog-user-project, which picks the project billed. anthropic-beta is a
 * list none of whose members goes on yet (some betas change the price): the agent is told which it sent were dropped,
 * as on /anthropic. Answers: the body's framing and retry hints;
 * never set-cookie or Google's front-end markers.
 */
const REQUEST = ['accept', 'user-agent', 'x-goog-api-client', 'x-stainless-retry-count', 'x-stainless-timeout'];
const RESPONSE = ['content-type', 'content-length', 'content-encoding', 'cache-control', 'retry-after', 'x-should-retry'];
const NO_BETAS: ReadonlySet<string> = new Set();

export function headerRules(): HeaderRules {
  return { request: REQUEST, requestLists: { 'anthropic-beta': NO_BETAS }, set: {}, response: RESPONSE, responsePrefixes: [] };
}

/** Vertex AI's scope (https://cloud.google.com/vertex-ai/docs/authentication). */
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Where google-auth-library sends a service account's JWT-bearer grant; it takes no other (the key file's token_uri is not read). */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

type ServiceAccount = { client_email: string; private_key: string; private_key_id?: string };

function readServiceAccount(file: string): ServiceAccount {
  let json: Partial<ServiceAccount> & { type?: string };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof json;
  } catch (err) {
    throw new Error(`env/TOLLGATE_VERTEX_CREDENTIALS: cannot read the service account key file ${file} (${(err as Error).message})`);
  }
  if (json.type !== 'service_account' || typeof json.client_email !== 'string' || typeof json.private_key !== 'string') {
    throw new Error(`env/TOLLGATE_VERTEX_CREDENTIALS: ${file} is not a service account key file (type service_account, client_email, private_key)`);
  }
  return json as ServiceAccount;
}

/**
 * tollgate's OAuth access token for Vertex AI, minted from its service account by google-auth-library (JWT-bearer
 * grant), cached by the library and refreshed before it expires (and once for concurrent calls), so a call waits
 * for the token endpoint only when the token is due. Without a project or a key file, /vertex is not configured.
 */
export function upstreamSigner(settings: ProviderSettings): UpstreamSigner | null {
  if (!settings.project || !settings.credentialsFile) return null;
  const account = readServiceAccount(settings.credentialsFile);
  const client = new JWT({ email: account.client_email, key: account.private_key, keyId: account.private_key_id, scopes: [CLOUD_PLATFORM] });
  const tokenUrl = settings.tokenUrl;
  if (tokenUrl !== undefined) {
    client.transporter.interceptors.request.add({
      resolved: async (options) => (String(options.url) === GOOGLE_TOKEN_URL ? { ...options, url: new URL(tokenUrl) } : options),
    });
  }
  return async () => {
    const { token } = await client.getAccessToken();
    if (!token) throw new Error('the token endpoint answered without an access token');
    return { authorization: `Bearer ${token}` };
  };
}
