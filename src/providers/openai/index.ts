import type { ProviderAdapter } from '../types.js';
import { ENDPOINTS, choices, clampOutput, isBilled, isStream, maxOutputTokens, outputLimit, prepareBody } from './body.js';
import { errorBody } from './errors.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

export const openai: ProviderAdapter = Object.freeze({
  name: 'openai',
  prefix: '/openai/v1',
  endpoints: Object.freeze(Object.keys(ENDPOINTS)),
  credentialHeaders: (apiKey: string) => ({ authorization: `Bearer ${apiKey}` }),
  prepareBody,
  isStream,
  usageFromBody,
  badUsage,
  requestTools,
  toolsFromBody,
  modelFromBody,
  streamReader,
  isInjectedUsageEvent,
  errorBody,
  maxOutputTokens,
  clampOutput,
  outputLimit,
  choices,
  isBilled,
});
