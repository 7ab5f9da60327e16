import type { ProviderSettings } from '../../config.js';
import type { PathCall, PathProblem } from '../types.js';

/**
 * Vertex AI names the project, location, publisher, model and method in the path
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.publishers.models), below /v1:
 * Gemini's `…/publishers/google/models/{m}:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`, and
 * Claude's `…/publishers/anthropic/models/{m}:rawPredict`, `:streamRawPredict`. The endpoint is the publisher and
 * the method (`google:generateContent`). The project and location billed are tollgate's: the agent's are accepted
 * and replaced. Vertex's express mode (an API key, no project in the path) names the model alone.
 */
const CALL = /^(?:\/projects\/[A-Za-z0-9._:-]{1,128}\/locations\/[a-z0-9-]{1,64})?\/publishers\/(google|anthropic)\/models\/([A-Za-z0-9._@-]{1,128}):([A-Za-z]+)$/;

const METHODS: Readonly<Record<string, ReadonlySet<string>>> = {
  google: new Set(['generateContent', 'streamGenerateContent', 'countTokens']),
  anthropic: new Set(['rawPredict', 'streamRawPredict']),
};

/** What /vertex lists as forwarded, below /vertex/v1. */
export const PATHS: readonly string[] = Object.freeze([
  '/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent',
  '/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent?alt=sse',
  '/projects/{project}/locations/{location}/publishers/google/models/{model}:countTokens',
  '/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict',
  '/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict',
  '/projects/{project}/locations/{location}/publishers/anthropic/models/count-tokens:rawPredict',
]);

/** Claude's token counting is one path for every model, the model in the body (as @anthropic-ai/vertex-sdk sends it). */
const CLAUDE_COUNT_TOKENS = 'count-tokens';

/** '@' names a Claude version on Vertex (claude-sonnet-4-5@20250929) and is valid in a path segment as it is. */
const segment = (model: string) => encodeURIComponent(model).replace(/%40/g, '@');

export function routePath(path: string, query: URLSearchParams, settings?: ProviderSettings): PathCall | PathProblem | null {
  const call = CALL.exec(path);
  if (!call) return null;
  const [, publisher, model, method] = call as unknown as [string, string, string, string];
  if (!METHODS[publisher]!.has(method)) return null;
  // Without alt=sse the stream is one JSON array, which tollgate does not read as it passes; the SDK always asks for SSE.
  if (method === 'streamGenerateContent' && query.get('alt') !== 'sse') {
    return { problem: 'invalid request: streamGenerateContent needs alt=sse (server-sent events), as the @google/genai SDK sends it' };
  }
  const account = `/projects/${encodeURIComponent(settings?.project ?? '')}/locations/${encodeURIComponent(settings?.location ?? '')}`;
  if (publisher === 'anthropic' && model === CLAUDE_COUNT_TOKENS) {
    if (method !== 'rawPredict') return null;
    return { endpoint: 'anthropic:countTokens', upstreamPath: () => `${account}/publishers/anthropic/models/${CLAUDE_COUNT_TOKENS}:rawPredict` };
  }
  return {
    endpoint: `${publisher}:${method}`,
    model,
    upstreamPath: (served) => `${account}/publishers/${publisher}/models/${segment(served)}:${method}`,
  };
}
