import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { importSPKI, jwtVerify } from 'jose';
import { countTokens as claudeCountTokens, errorJson as anthropicErrorJson, messages } from './anthropic.js';
import { GEMINI_MODELS, countTokens, generateContent, googleError, streamGenerateContent } from './gemini.js';
import { usage, type JsonReply, type Renderer, type Route } from './wire.js';

/**
 * Vertex AI's wire format: Gemini's bodies, answers and SSE streams below
 * `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:{method}`, Claude's Messages bodies (model in the
 * path, `anthropic_version` in the body) and answers below `…/publishers/anthropic/models/{m}:rawPredict` and
 * `:streamRawPredict`; platform refusals in Google's shape, Claude's own in Anthropic's. Calls need an OAuth token
 * this fake minted at its token endpoint, for the service account the test made, on the project and location set.
 */

/** The service account the fake trusts (its public key), and the project and location it serves. */
export type VertexAccount = { project: string; location: string; clientEmail: string; publicKeyPem: string };

/** Live: the tokens minted, the grants asked for (minted or not), whether the token endpoint is down (it then answers 503), and how long a token lives. */
export type VertexTokens = { minted: string[]; grants: number; down: boolean; lifetimeS: number };

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The audience google-auth-library signs its assertion for, whatever endpoint it is sent to. */
const TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

export const VERTEX_CLAUDE_MODELS: ReadonlySet<string> = new Set([
  'claude-sonnet-4-5@20250929', 'claude-haiku-4-5@20251001', 'claude-sonnet-4-5', 'claude-haiku-4-5',
]);

const oauthError = (status: number, error: string, description: string) => ({ status, json: { error, error_description: description } });

/** Google's token endpoint for a JWT-bearer grant (https://developers.google.com/identity/protocols/oauth2/service-account#httprest). */
export async function mintToken(form: Record<string, string>, account: VertexAccount, tokens: VertexTokens): Promise<{ status: number; json: unknown }> {
  tokens.grants++;
  if (tokens.down) return oauthError(503, 'temporarily_unavailable', 'The token service is unavailable.');
  if (form.grant_type !== JWT_BEARER || typeof form.assertion !== 'string') return oauthError(400, 'unsupported_grant_type', 'Invalid grant_type.');
  try {
    const key = await importSPKI(account.publicKeyPem, 'RS256');
    const { payload } = await jwtVerify(form.assertion, key, { algorithms: ['RS256'], issuer: account.clientEmail, audience: TOKEN_AUDIENCE, maxTokenAge: '1h' });
    if (!String(payload.scope ?? '').split(' ').includes(CLOUD_PLATFORM)) return oauthError(400, 'invalid_scope', 'Vertex AI needs the cloud-platform scope.');
  } catch (err) {
    return oauthError(400, 'invalid_grant', `Invalid JWT: ${(err as Error).message}`);
  }
  const token = `ya29.fake-${tokens.minted.length + 1}-${randomBytes(12).toString('hex')}`;
  tokens.minted.push(token);
  return { status: 200, json: { access_token: token, expires_in: tokens.lifetimeS, token_type: 'Bearer' } };
}

/** Only a token this fake minted, in Authorization, and no other credential. */
export function authorizeVertex(headers: IncomingHttpHeaders, tokens: VertexTokens): JsonReply | null {
  const token = headers.authorization?.replace(/^Bearer /, '');
  const other = headers['x-goog-api-key'] ?? headers['x-api-key'] ?? headers['api-key'];
  if (token !== undefined && tokens.minted.includes(token) && other === undefined) return null;
  return googleError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'UNAUTHENTICATED', 'ACCESS_TOKEN_TYPE_UNSUPPORTED');
}

type Params = { project: string; location: string; model?: string };
const paramsOf = (request: FastifyRequest) => request.params as Params;
/** The path's model, or the body's on Claude's token counting (`…/models/count-tokens:rawPredict`). */
const modelOf = (request: FastifyRequest) => paramsOf(request).model ?? String((request.body as { model?: unknown } | undefined)?.model);

function refusal(account: VertexAccount, publisher: string, models: ReadonlySet<string>, request: FastifyRequest): JsonReply | null {
  const { project, location } = paramsOf(request);
  const model = modelOf(request);
  const resource = `projects/${project}/locations/${location}/publishers/${publisher}/models/${model}`;
  if (project !== account.project || location !== account.location) {
    return googleError(403, `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/${resource}' (or it may not exist).`, 'PERMISSION_DENIED', 'IAM_PERMISSION_DENIED');
  }
  if (!models.has(model)) return googleError(404, `Publisher Model \`${resource}\` not found.`, 'NOT_FOUND');
  return null;
}

/**
 * Claude on Vertex: the API version in the body (`vertex-2023-10-16`, or the dated version the Anthropic SDK puts in
 * its anthropic-version header, which @anthropic-ai/vertex-sdk moves into the body), the model only in the path.
 */
const ANTHROPIC_VERSION = /^(vertex-2023-10-16|\d{4}-\d{2}-\d{2})$/;

function claudeBodyRefusal(request: FastifyRequest): JsonReply | null {
  const body = (request.body ?? {}) as Record<string, unknown>;
  const refuse = (message: string): JsonReply => ({ status: 400, json: anthropicErrorJson('invalid_request_error', message), usage: usage(0, 0, 0, 0) });
  if (body.anthropic_version === undefined) return refuse('anthropic_version: Field required');
  if (!ANTHROPIC_VERSION.test(String(body.anthropic_version))) return refuse(`anthropic_version: unknown version ${String(body.anthropic_version)}`);
  if (body.model !== undefined && paramsOf(request).model !== undefined) return refuse('model: Extra inputs are not permitted');
  return null;
}

const claude = (stream: boolean): Renderer => (body, ctx) => messages({ ...body, stream }, ctx);

function route(account: VertexAccount, version: string, publisher: 'google' | 'anthropic', method: string, render: Renderer, streams = false, model?: string): Route {
  const models = publisher === 'google' ? GEMINI_MODELS : VERTEX_CLAUDE_MODELS;
  const modelPattern = publisher === 'google' ? '^[A-Za-z0-9._-]+' : '^[A-Za-z0-9._@-]+';
  return {
    path: `/${version}/projects/:project/locations/:location/publishers/${publisher}/models/${model ?? `:model(${modelPattern})`}::${method}`,
    provider: 'vertex', render, streams,
    model: modelOf,
    refuse: (request) => refusal(account, publisher, models, request) ?? (publisher === 'anthropic' ? claudeBodyRefusal(request) : null),
  };
}

/** Both API versions the SDKs call (v1, and v1beta1: @google/genai's default), the same methods below each. */
export function vertexRoutes(account: VertexAccount): Route[] {
  return ['v1', 'v1beta1'].flatMap((version) => [
    route(account, version, 'google', 'generateContent', generateContent),
    route(account, version, 'google', 'streamGenerateContent', streamGenerateContent, true),
    route(account, version, 'google', 'countTokens', countTokens),
    route(account, version, 'anthropic', 'rawPredict', claude(false)),
    route(account, version, 'anthropic', 'streamRawPredict', claude(true), true),
    route(account, version, 'anthropic', 'rawPredict', claudeCountTokens, false, 'count-tokens'),
  ]);
}

/** Google's front end's markers (never to reach an agent). */
export function vertexAnswerHeaders(): Record<string, string> {
  return { server: 'scaffolding on HTTPServer2', 'x-xss-protection': '0', 'x-content-type-options': 'nosniff', vary: 'Origin, X-Origin, Referer' };
}
