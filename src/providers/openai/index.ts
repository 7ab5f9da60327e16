import type { ProviderAdapter } from '../types.js';
import { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from './body.js';
import { errorBody } from './errors.js';
import { headerRules } from './headers.js';
import { ROUTES } from './routes.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

export const openai: ProviderAdapter = Object.freeze({
  name: 'openai',
  genAiProvider: 'openai',
  ...ROUTES,
  endpoints: Object.freeze(Object.keys(ENDPOINTS)),
  operations: Object.freeze(Object.fromEntries(Object.entries(ENDPOINTS).map(([endpoint, spec]) => [endpoint, spec.operation]))),
  headerRules,
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
  readBody,
  clampOutput,
  isBilled,
});
