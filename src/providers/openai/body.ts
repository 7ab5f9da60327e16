import { clampOutputFor, isBilledFor, isStreamFor, readBodyFor, type BodyProblem, type BodyShape, type EndpointSpecs } from '../endpoint-spec.js';
import { asObject } from '../json.js';

export const ENDPOINTS: EndpointSpecs = {
  // n answers, each up to the output limit: https://platform.openai.com/docs/api-reference/chat/create#chat-create-n
  '/chat/completions': { operation: 'chat', streams: true, maxOutputFields: ['max_completion_tokens', 'max_tokens'], choices: { field: 'n', max: 128 } },
  // Responses has no n: one answer per call.
  '/responses': { operation: 'chat', streams: true, maxOutputFields: ['max_output_tokens'] },
  '/embeddings': { operation: 'embeddings', streams: false, maxOutputFields: null },
};

export function isStream(endpoint: string, body: Record<string, unknown>): boolean {
  return isStreamFor(ENDPOINTS, endpoint, body);
}

export function readBody(endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem {
  return readBodyFor(ENDPOINTS, endpoint, body);
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
