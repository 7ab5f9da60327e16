import type { ProviderSettings } from '../../config.js';
import type { HeaderRules } from '../types.js';

/**
 * Requests: what the official SDKs need and nothing that picks the account. OpenAI-Organization and
 * OpenAI-Project choose who is billed, so they are tollgate's (TOLLGATE_OPENAI_ORGANIZATION / _PROJECT), never the
 * agent's. The SDK's retry count and timeout hints go on (they only describe this attempt); its platform
 * headers (OS, arch, runtime) do not: the provider needs none of them, and user-agent names the SDK.
 * Idempotency-Key does not go on: tollgate meters every attempt it forwards, so the provider must bill each.
 *
 * Answers: what a client acts on (request id, retry hints, rate limits); never set-cookie, nor
 * openai-organization / openai-project, which name tollgate's account.
 */
const REQUEST = ['accept', 'user-agent', 'x-stainless-retry-count', 'x-stainless-timeout'];
const RESPONSE = [
  'content-type', 'content-length', 'content-encoding', 'cache-control', 'x-request-id', 'openai-processing-ms',
  'openai-version', 'retry-after', 'retry-after-ms', 'x-should-retry',
];

export function headerRules(settings: ProviderSettings): HeaderRules {
  const set: Record<string, string> = {};
  if (settings.apiKey) set.authorization = `Bearer ${settings.apiKey}`;
  if (settings.organization) set['openai-organization'] = settings.organization;
  if (settings.project) set['openai-project'] = settings.project;
  return { request: REQUEST, requestLists: {}, set, response: RESPONSE, responsePrefixes: ['x-ratelimit-'] };
}
