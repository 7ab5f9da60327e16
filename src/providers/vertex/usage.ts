import * as anthropic from '../anthropic/usage.js';
import * as gemini from '../gemini/usage.js';
import { stringField } from '../json.js';
import type { NormalizedUsage, StreamUsageReader } from '../types.js';
import { publisherOf } from './body.js';

/**
 * Each publisher reports usage as on its own API: Gemini's usageMetadata (cached and thinking tokens), Claude's
 * Messages usage (cache reads and writes); both read by their adapters into the four token kinds.
 */
export function usageFromBody(endpoint: string, body: unknown): NormalizedUsage | null {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.usageFromBody(p.endpoint, body) : anthropic.usageFromBody(p.endpoint, body);
}

export function badUsage(endpoint: string, body: unknown): Record<string, unknown> | undefined {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.badUsage(p.endpoint, body) : anthropic.badUsage(p.endpoint, body);
}

/** Gemini names the model version that served the call in modelVersion, Claude in model. */
export function modelFromBody(body: unknown): string | undefined {
  return stringField(body, 'modelVersion') ?? stringField(body, 'model');
}

export function streamReader(endpoint: string): StreamUsageReader {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.streamReader(p.endpoint) : anthropic.streamReader(p.endpoint);
}

/** Both publishers report usage unasked: tollgate never adds a request for it. */
export function isInjectedUsageEvent(): boolean {
  return false;
}
