import * as anthropic from '../anthropic/body.js';
import * as gemini from '../gemini/body.js';
import type { BodyProblem, BodyShape, EndpointSpecs } from '../endpoint-spec.js';

/**
 * Gemini's bodies for publishers/google (src/providers/gemini), Anthropic's Messages bodies for
 * publishers/anthropic (https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude):
 * the model is in the path, not the body, and the body carries `anthropic_version: "vertex-2023-10-16"`.
 */
export const ENDPOINTS: EndpointSpecs = {
  'google:generateContent': gemini.ENDPOINTS[':generateContent']!,
  'google:streamGenerateContent': gemini.ENDPOINTS[':streamGenerateContent']!,
  'google:countTokens': gemini.ENDPOINTS[':countTokens']!,
  'anthropic:rawPredict': { ...anthropic.ENDPOINTS['/messages']!, streams: false },
  'anthropic:streamRawPredict': anthropic.ENDPOINTS['/messages']!,
  'anthropic:countTokens': anthropic.ENDPOINTS['/messages/count_tokens']!,
};

/** The endpoint of the publisher's own adapter that a Vertex endpoint is: Gemini's `:method`, Anthropic's /messages. */
export type Publisher = { publisher: 'google'; endpoint: string } | { publisher: 'anthropic'; endpoint: string };

export function publisherOf(endpoint: string): Publisher {
  const [publisher, method] = endpoint.split(':', 2) as [string, string];
  if (publisher === 'anthropic') return { publisher, endpoint: method === 'countTokens' ? '/messages/count_tokens' : '/messages' };
  return { publisher: 'google', endpoint: `:${method}` };
}

/** The method says whether it streams, for both publishers. */
export function isStream(endpoint: string): boolean {
  return endpoint === 'google:streamGenerateContent' || endpoint === 'anthropic:streamRawPredict';
}

export function readBody(endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.readBody(p.endpoint, body) : anthropic.readBody(p.endpoint, body);
}

export function clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.clampOutput(p.endpoint, body, limit) : anthropic.clampOutput(p.endpoint, body, limit);
}

/**
 * The model is in the path for both publishers: a `model` a Claude body carries is not Vertex's, and is dropped;
 * Claude's token counting alone names it in the body.
 */
export function prepareBody(endpoint: string, body: Record<string, unknown>, servedModel: string): { body: Record<string, unknown>; injectedUsage: boolean } {
  if (publisherOf(endpoint).publisher === 'google') return { body, injectedUsage: false };
  if (endpoint === 'anthropic:countTokens') return { body: { ...body, model: servedModel }, injectedUsage: false };
  const { model: _model, ...rest } = body;
  return { body: rest, injectedUsage: false };
}

export function isBilled(endpoint: string): boolean {
  return endpoint !== 'google:countTokens' && endpoint !== 'anthropic:countTokens';
}
