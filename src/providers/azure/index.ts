import type { ProviderAdapter } from '../types.js';
import { endpointsOf } from '../endpoint-spec.js';
import { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from './body.js';
import { errorBody } from './errors.js';
import { entraSigner, headerRules } from './headers.js';
import { PATHS, routePath } from './routes.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

/**
 * Azure OpenAI: OpenAI's wire format (bodies, usage, streams, tools, error shape) behind Azure's paths, key
 * header and deployment names (the catalog maps each deployment to a model of provider `azure`). Without a key,
 * tollgate's own Microsoft Entra ID token goes up instead (headers.ts).
 */
export const azure: ProviderAdapter = Object.freeze({
  name: 'azure',
  genAiProvider: 'azure.ai.openai',
  root: '/azure',
  prefix: '/azure/openai',
  upstreamPrefix: '/openai',
  routePath,
  paths: PATHS,
  queryAllowlist: Object.freeze(['api-version']),
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
  upstreamSigner: entraSigner,
});
