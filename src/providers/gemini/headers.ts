import type { ProviderSettings } from '../../config.js';
import type { HeaderRules } from '../types.js';

/**
 * Requests: what the SDK needs (x-goog-api-client names the SDK, like user-agent); tollgate's key goes up in
 * x-goog-api-key (https://ai.google.dev/gemini-api/docs/api-key), never the agent's (its tollgate key in the same
 * header), nor x-goog-user-project, which picks the project billed. Answers: the body's framing and retry hints;
 * never set-cookie or server markers.
 */
const REQUEST = ['accept', 'user-agent', 'x-goog-api-client'];
const RESPONSE = ['content-type', 'content-length', 'content-encoding', 'cache-control', 'retry-after'];

export function headerRules(settings: ProviderSettings): HeaderRules {
  const set: Record<string, string> = {};
  if (settings.apiKey) set['x-goog-api-key'] = settings.apiKey;
  return { request: REQUEST, requestLists: {}, set, response: RESPONSE, responsePrefixes: [] };
}
