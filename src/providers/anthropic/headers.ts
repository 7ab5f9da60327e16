import type { ProviderSettings } from '../../config.js';
import type { HeaderRules } from '../types.js';

/**
 * Requests: what the official SDKs need. anthropic-version picks the API's shape and goes on as sent.
 * anthropic-beta turns features on, some of them priced differently (the 1M context window, the 1-hour cache
 * TTL): only the betas the operator allows (TOLLGATE_ANTHROPIC_BETAS) go on, the others are dropped rather than
 * the call refused, so that Claude Code, which sends several, keeps working; a request that needs a dropped
 * beta is refused by Anthropic itself, never billed at the beta's price. The SDK's retry count and timeout
 * hints go on; its platform headers and the browser-access flag do not (nothing here runs in a browser).
 *
 * Answers: what a client acts on (request id, retry hints, rate limits); never set-cookie, nor
 * anthropic-organization-id / anthropic-workspace-id, which name tollgate's account.
 */
const REQUEST = ['accept', 'user-agent', 'anthropic-version', 'x-stainless-retry-count', 'x-stainless-timeout'];
const RESPONSE = ['content-type', 'content-length', 'content-encoding', 'cache-control', 'request-id', 'retry-after', 'x-should-retry'];

export function headerRules(settings: ProviderSettings): HeaderRules {
  const set: Record<string, string> = {};
  if (settings.apiKey) set['x-api-key'] = settings.apiKey;
  return {
    request: REQUEST,
    requestLists: { 'anthropic-beta': new Set(settings.betas ?? []) },
    set,
    response: RESPONSE,
    responsePrefixes: ['anthropic-ratelimit-'],
  };
}
