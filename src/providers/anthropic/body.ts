import { clampOutputFor, isBilledFor, isStreamFor, readBodyFor, type BodyProblem, type BodyShape, type EndpointSpecs } from '../endpoint-spec.js';

export const ENDPOINTS: EndpointSpecs = {
  // Messages has no n: one answer per call.
  '/messages': { streams: true, maxOutputFields: ['max_tokens'] },
  '/messages/count_tokens': { streams: false, maxOutputFields: null, billed: false },
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

/** Anthropic streams always carry usage (message_start, message_delta): only the model changes. */
export function prepareBody(
  _endpoint: string,
  body: Record<string, unknown>,
  servedModel: string,
): { body: Record<string, unknown>; injectedUsage: boolean } {
  return { body: { ...body, model: servedModel }, injectedUsage: false };
}

export function isBilled(endpoint: string): boolean {
  return isBilledFor(ENDPOINTS, endpoint);
}
