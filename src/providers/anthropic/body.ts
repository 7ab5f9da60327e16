import { choicesFor, clampOutputFor, isBilledFor, isStreamFor, maxOutputTokensFor, outputLimitFor, type EndpointSpecs } from '../endpoint-spec.js';

export const ENDPOINTS: EndpointSpecs = {
  '/messages': { streams: true, maxOutputFields: ['max_tokens'] },
  '/messages/count_tokens': { streams: false, maxOutputFields: null, billed: false },
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
