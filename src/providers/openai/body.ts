import { choicesFor, clampOutputFor, isBilledFor, isStreamFor, maxOutputTokensFor, outputLimitFor, type EndpointSpecs } from '../endpoint-spec.js';
import { asObject } from '../json.js';

export const ENDPOINTS: EndpointSpecs = {
  '/chat/completions': { streams: true, maxOutputFields: ['max_completion_tokens', 'max_tokens'], choicesField: 'n' },
  '/responses': { streams: true, maxOutputFields: ['max_output_tokens'] },
  '/embeddings': { streams: false, maxOutputFields: null },
};

export function isStream(endpoint: string, body: Record<string, unknown>): boolean {
  return isStreamFor(ENDPOINTS, endpoint, body);
}

export function maxOutputTokens(endpoint: string, body: Record<string, unknown>): number {
  return maxOutputTokensFor(ENDPOINTS, endpoint, body);
}

export function outputLimit(endpoint: string, body: Record<string, unknown>): number | null {
  return outputLimitFor(ENDPOINTS, endpoint, body);
}

export function choices(endpoint: string, body: Record<string, unknown>): number {
  return choicesFor(ENDPOINTS, endpoint, body);
}

export function clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  return clampOutputFor(ENDPOINTS, endpoint, body, limit);
}

/**
 * Chat streams report usage only when asked (stream_options.include_usage); tollgate asks when the
 * client did not, and says so, so that the extra usage-only chunk can be kept from the client.
 * Responses streams always end with response.completed and its usage.
 */
export function prepareBody(
  endpoint: string,
  body: Record<string, unknown>,
  servedModel: string,
): { body: Record<string, unknown>; injectedUsage: boolean } {
  const prepared: Record<string, unknown> = { ...body, model: servedModel };
  if (!isStream(endpoint, body) || endpoint !== '/chat/completions') return { body: prepared, injectedUsage: false };
  const streamOptions = asObject(body.stream_options);
  if (streamOptions?.include_usage === true) return { body: prepared, injectedUsage: false };
  prepared.stream_options = { ...streamOptions, include_usage: true };
  return { body: prepared, injectedUsage: true };
}

export function isBilled(endpoint: string): boolean {
  return isBilledFor(ENDPOINTS, endpoint);
}
