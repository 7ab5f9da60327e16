import type { ProviderAdapter } from '../types.js';
import { ENDPOINTS, choices, clampOutput, isBilled, isStream, maxOutputTokens, outputLimit, prepareBody } from './body.js';
import { errorBody } from './errors.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

export const anthropic: ProviderAdapter = Object.freeze({
  name: 'anthropic',
  prefix: '/anthropic/v1',
  endpoints: Object.freeze(Object.keys(ENDPOINTS)),
  credentialHeaders: (apiKey: string) => ({ 'x-api-key': apiKey }),
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
