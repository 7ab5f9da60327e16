import type { PathCall, PathProblem } from '../types.js';

/**
 * The Gemini API names the model and the method in the path, below /v1beta
 * (https://ai.google.dev/api/generate-content): `/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
 * `:countTokens`. The endpoint is the method (`:generateContent`); the model is the path's.
 */
const CALL = /^\/models\/([A-Za-z0-9._-]{1,128}):(generateContent|streamGenerateContent|countTokens)$/;

/** What /gemini lists as forwarded, below /gemini/v1beta. */
export const PATHS: readonly string[] = Object.freeze(['/models/{model}:generateContent', '/models/{model}:streamGenerateContent?alt=sse', '/models/{model}:countTokens']);

export function routePath(path: string, query: URLSearchParams): PathCall | PathProblem | null {
  const call = CALL.exec(path);
  if (!call) return null;
  const [, model, method] = call as unknown as [string, string, string];
  // Without alt=sse the stream is one JSON array, which tollgate does not read as it passes; the SDK always asks for SSE.
  if (method === 'streamGenerateContent' && query.get('alt') !== 'sse') {
    return { problem: 'invalid request: streamGenerateContent needs alt=sse (server-sent events), as the @google/genai SDK sends it' };
  }
  return { endpoint: `:${method}`, model, upstreamPath: (served) => `/models/${encodeURIComponent(served)}:${method}` };
}
