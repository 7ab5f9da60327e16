import type { PathCall, PathProblem } from '../types.js';

/**
 * Azure OpenAI's paths below `/openai` (https://learn.microsoft.com/azure/ai-foundry/openai/reference):
 * - `/deployments/{deployment}/chat/completions|embeddings?api-version=…`: the deployment names the model;
 * - `/responses?api-version=…`: the `AzureOpenAI` client's Responses route, the deployment in the body's `model`;
 * - `/v1/chat/completions|responses|embeddings`: the v1 API, the deployment in the body's `model`, api-version optional.
 * The endpoints are OpenAI's, so bodies, usage and tools read as OpenAI's.
 */
const DEPLOYMENT_ENDPOINTS = new Set(['/chat/completions', '/embeddings']);
const BODY_MODEL_ENDPOINTS = new Set(['/chat/completions', '/responses', '/embeddings']);
const DEPLOYMENT = /^\/deployments\/([A-Za-z0-9._-]{1,64})(\/.*)$/;

/** What /azure lists as forwarded, below /azure/openai. */
export const PATHS: readonly string[] = Object.freeze([
  '/deployments/{deployment}/chat/completions?api-version=…', '/deployments/{deployment}/embeddings?api-version=…', '/responses?api-version=…',
  '/v1/chat/completions', '/v1/responses', '/v1/embeddings',
]);

const NEEDS_API_VERSION: PathProblem = {
  problem: 'invalid request: the api-version query parameter is required (the AzureOpenAI client sends it: set apiVersion)',
};

export function routePath(path: string, query: URLSearchParams): PathCall | PathProblem | null {
  const deployment = DEPLOYMENT.exec(path);
  if (deployment) {
    const [, name, endpoint] = deployment as unknown as [string, string, string];
    if (!DEPLOYMENT_ENDPOINTS.has(endpoint)) return null;
    if (!query.get('api-version')) return NEEDS_API_VERSION;
    return { endpoint, model: name, upstreamPath: (served) => `/deployments/${encodeURIComponent(served)}${endpoint}` };
  }
  if (path.startsWith('/v1/') && BODY_MODEL_ENDPOINTS.has(path.slice(3))) return { endpoint: path.slice(3), upstreamPath: () => path };
  if (path === '/responses') return query.get('api-version') ? { endpoint: path, upstreamPath: () => path } : NEEDS_API_VERSION;
  return null;
}
