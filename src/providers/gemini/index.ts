import type { ProviderAdapter } from '../types.js';
import { endpointsOf } from '../endpoint-spec.js';
import { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from './body.js';
import { errorBody } from './errors.js';
import { headerRules } from './headers.js';
import { PATHS, routePath } from './routes.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

/** The Gemini API (generativelanguage): the model and method in the path, Google's error shape, usageMetadata. */
export const gemini: ProviderAdapter = Object.freeze({
  name: 'gemini',
  genAiProvider: 'gcp.gemini',
  root: '/gemini',
  prefix: '/gemini/v1beta',
  upstreamPrefix: '/v1beta',
  routePath,
  paths: PATHS,
  // alt=sse asks for server-sent events; `key` (a credential in the query) and anything else stays here.
  queryAllowlist: Object.freeze(['alt']),
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
