import type { ProviderAdapter } from '../types.js';
import { endpointsOf } from '../endpoint-spec.js';
import { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from './body.js';
import { errorBody } from './errors.js';
import { headerRules } from './headers.js';
import { ROUTES } from './routes.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

export const anthropic: ProviderAdapter = Object.freeze({
  name: 'anthropic',
  genAiProvider: 'anthropic',
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
