import type { ProviderSettings } from '../../config.js';
import type { HeaderRules } from '../types.js';

/**
 * As OpenAI's (src/providers/openai/headers.ts), with Azure's own: tollgate's key goes up in `api-key`
 * (https://learn.microsoft.com/azure/ai-foundry/openai/reference#authentication); the agent's `api-key` or
 * Authorization (its tollgate credential) never does. Answers pass Azure's request ids and rate limits back,
 * never anything naming the resource's account (azureml-model-session, x-ms-region are dropped).
 */
const REQUEST = ['accept', 'user-agent', 'x-stainless-retry-count', 'x-stainless-timeout'];
const RESPONSE = [
  'content-type', 'content-length', 'content-encoding', 'cache-control', 'x-request-id', 'apim-request-id',
  'retry-after', 'retry-after-ms', 'x-should-retry',
];

export function headerRules(settings: ProviderSettings): HeaderRules {
  const set: Record<string, string> = {};
  if (settings.apiKey) set['api-key'] = settings.apiKey;
  return { request: REQUEST, requestLists: {}, set, response: RESPONSE, responsePrefixes: ['x-ratelimit-'] };
}
