import type { FastifyRequest } from 'fastify';
import { chatCompletions, embeddings, responses } from './openai.js';
import type { FakeEntra } from './entra.js';
import { usage, type JsonReply, type Renderer, type Route, type SseOut } from './wire.js';

/**
 * Azure OpenAI's wire format (https://learn.microsoft.com/azure/ai-foundry/openai/reference): OpenAI's bodies
 * behind `/openai/deployments/{deployment}/…?api-version=…`, `/openai/responses?api-version=…` and the v1 API's
 * `/openai/v1/…`; the key in `api-key`, or an Entra token (src/providers/azure/headers.ts) in Authorization; errors as
 * `{ error: { code, message } }`; content filter results on chat answers, and a first stream chunk that carries
 * only the prompt's.
 */

/** The fake resource's deployments: deployment name → the model it runs. */
export const AZURE_DEPLOYMENTS: Readonly<Record<string, string>> = Object.freeze({
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
  'marketing-gpt41': 'gpt-4.1-2025-04-14',
});

const FILTERED = { hate: { filtered: false, severity: 'safe' }, self_harm: { filtered: false, severity: 'safe' }, sexual: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } };
const PROMPT_FILTER_RESULTS = [{ prompt_index: 0, content_filter_results: FILTERED }];

export function azureError(status: number, code: string, message: string): JsonReply {
  return { status, json: { error: { code, message } }, usage: usage(0, 0, 0, 0) };
}

/** The audience of Azure OpenAI's Entra tokens. */
const AZURE_TOKEN_AUDIENCE = 'https://cognitiveservices.azure.com';

/**
 * The resource's key in `api-key`, or (with an Entra authority) a token it issued for Azure OpenAI in
 * `Authorization: Bearer`. Every credential present must be that one: a gateway that leaks the agent's
 * Authorization beside the key, or a key beside the token, is caught.
 */
export function authorizeAzure(headers: FastifyRequest['headers'], key: string | undefined, entra?: FakeEntra): JsonReply | null {
  const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
  if (bearer !== undefined && entra !== undefined && headers['api-key'] === undefined) {
    if (entra.accepts(bearer, AZURE_TOKEN_AUDIENCE)) return null;
    return azureError(401, 'PermissionDenied', 'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.');
  }
  if (key !== undefined && headers['api-key'] === key && headers.authorization === undefined) return null;
  return azureError(401, '401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.');
}

/** Chat answers carry content filter results; a stream opens with the prompt's, in a chunk without choices. */
const azureChat: Renderer = (body, ctx) => {
  const reply = chatCompletions(body, ctx);
  if (!('events' in reply)) {
    const json = reply.json as { choices: object[] };
    const choices = json.choices.map((choice) => ({ ...choice, content_filter_results: FILTERED }));
    return { ...reply, json: { ...json, choices, prompt_filter_results: PROMPT_FILTER_RESULTS } };
  }
  const opening: SseOut = { data: JSON.stringify({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: PROMPT_FILTER_RESULTS }) };
  return { ...reply, events: [opening, ...reply.events] };
};

const params = (request: FastifyRequest) => request.params as Record<string, string>;
const bodyModel = (request: FastifyRequest) => (request.body as { model?: unknown } | undefined)?.model;
const queryOf = (request: FastifyRequest) => new URLSearchParams(request.url.split('?')[1] ?? '');

function deploymentRefusal(deployment: unknown, needsVersion: boolean, request: FastifyRequest): JsonReply | null {
  // Azure answers a missing api-version as a missing resource.
  if (needsVersion && !queryOf(request).get('api-version')) return azureError(404, '404', 'Resource not found');
  if (typeof deployment === 'string' && Object.hasOwn(AZURE_DEPLOYMENTS, deployment)) return null;
  return azureError(404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.');
}

const runs = (deployment: unknown) => (typeof deployment === 'string' ? AZURE_DEPLOYMENTS[deployment] : undefined);

function byDeployment(endpoint: string, render: Renderer): Route {
  return {
    path: `/openai/deployments/:deployment${endpoint}`, provider: 'azure', render,
    model: (request) => runs(params(request).deployment),
    refuse: (request) => deploymentRefusal(params(request).deployment, true, request),
  };
}

function byBody(path: string, render: Renderer, needsVersion: boolean): Route {
  return {
    path, provider: 'azure', render,
    model: (request) => runs(bodyModel(request)),
    refuse: (request) => deploymentRefusal(bodyModel(request), needsVersion, request),
  };
}

export const AZURE_ROUTES: readonly Route[] = [
  byDeployment('/chat/completions', azureChat),
  byDeployment('/embeddings', embeddings),
  byBody('/openai/responses', responses, true),
  byBody('/openai/v1/chat/completions', azureChat, false),
  byBody('/openai/v1/responses', responses, false),
  byBody('/openai/v1/embeddings', embeddings, false),
];

/** Azure's answer headers: its request ids and rate limits, and its own account markers (never to reach an agent). */
export function azureAnswerHeaders(requestId: string): Record<string, string> {
  return {
    'apim-request-id': requestId, 'x-request-id': requestId, 'x-ms-region': 'Sweden Central', 'azureml-model-session': 'd001-20250101',
    'x-ratelimit-remaining-requests': '249', 'x-ratelimit-remaining-tokens': '249000', 'x-ms-rai-invoked': 'true',
  };
}
