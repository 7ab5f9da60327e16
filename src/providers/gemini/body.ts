import { readBodyFor, type BodyProblem, type BodyShape, type EndpointSpecs } from '../endpoint-spec.js';
import { asObject } from '../json.js';

/**
 * The methods tollgate forwards. The output limit and the number of answers are in generationConfig
 * (https://ai.google.dev/api/generate-content#generationconfig): maxOutputTokens (thinking included) per
 * candidate, candidateCount candidates (up to 8), each billed like OpenAI's n.
 */
export const ENDPOINTS: EndpointSpecs = {
  ':generateContent': { operation: 'generate_content', streams: false, maxOutputFields: ['maxOutputTokens'], choices: { field: 'candidateCount', max: 8 } },
  ':streamGenerateContent': { operation: 'generate_content', streams: true, maxOutputFields: ['maxOutputTokens'], choices: { field: 'candidateCount', max: 8 } },
  ':countTokens': { operation: 'count_tokens', streams: false, maxOutputFields: null, billed: false },
};

/** The method says whether it streams; the body does not. */
export function isStream(endpoint: string): boolean {
  return endpoint === ':streamGenerateContent';
}

export function readBody(endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem {
  const config = body.generationConfig;
  if (config !== undefined && config !== null && asObject(config) === undefined) {
    return { ok: false, message: 'invalid request: generationConfig must be an object' };
  }
  const shape = readBodyFor(ENDPOINTS, endpoint, asObject(config) ?? {});
  return shape.ok ? shape : { ok: false, message: shape.message.replace('invalid request: ', 'invalid request: generationConfig.') };
}

export function clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  if (ENDPOINTS[endpoint]?.maxOutputFields === null) return body;
  const config = asObject(body.generationConfig) ?? {};
  const current = config.maxOutputTokens;
  return { ...body, generationConfig: { ...config, maxOutputTokens: typeof current === 'number' ? Math.min(current, limit) : limit } };
}

/** The model is in the path (src/providers/gemini/routes.ts); the body goes as it came, and every answer reports usage. */
export function prepareBody(_endpoint: string, body: Record<string, unknown>): { body: Record<string, unknown>; injectedUsage: boolean } {
  return { body, injectedUsage: false };
}

export function isBilled(endpoint: string): boolean {
  return ENDPOINTS[endpoint]?.billed !== false;
}
