import type { ProviderAdapter } from '../types.js';
import { endpointsOf } from '../endpoint-spec.js';
import { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from './body.js';
import { errorBody } from './errors.js';
import { headerRules, upstreamSigner } from './headers.js';
import { PATHS, routePath } from './routes.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

/**
 * Vertex AI: Gemini (publishers/google) and Claude (publishers/anthropic) behind one mount, each in its own wire
 * format, on tollgate's project and location, with tollgate's OAuth token; refusals in Google's error shape.
 */
export const vertex: ProviderAdapter = Object.freeze({
  name: 'vertex',
  genAiProvider: 'gcp.vertex_ai',
  root: '/vertex',
  prefix: '/vertex/v1',
  upstreamPrefix: '/v1',
  // @google/genai calls v1beta1 unless told otherwise; the upstream gets the version the agent called.
  morePrefixes: Object.freeze([Object.freeze({ prefix: '/vertex/v1beta1', upstreamPrefix: '/v1beta1' })]),
  routePath,
  paths: PATHS,
  // alt=sse asks for server-sent events; a `key` (a credential in the query) and anything else stays here.
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
  upstreamSigner,
});
