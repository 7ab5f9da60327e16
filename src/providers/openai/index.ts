import type { ProviderAdapter } from '../types.js';
import { endpointsOf } from '../endpoint-spec.js';
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
  ...endpointsOf(ENDPOINTS),
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
