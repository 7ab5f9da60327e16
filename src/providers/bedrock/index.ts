import type { ProviderAdapter } from '../types.js';
import { endpointsOf } from '../endpoint-spec.js';
import { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from './body.js';
import { errorBody, errorReply } from './errors.js';
import { headerRules, refuseCredential } from './headers.js';
import { PATHS, routePath, upstreamSigner } from './routes.js';
import { requestTools, toolsFromBody } from './tools.js';
import { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from './usage.js';

/**
 * Amazon Bedrock's runtime: the model in the path, Converse and Anthropic-on-Bedrock InvokeModel bodies, answers
 * as JSON or AWS event streams, every call signed with tollgate's AWS credential (SigV4).
 */
export const bedrock: ProviderAdapter = Object.freeze({
  name: 'bedrock',
  genAiProvider: 'aws.bedrock',
  root: '/bedrock',
  prefix: '/bedrock/model',
  upstreamPrefix: '/model',
  routePath,
  paths: PATHS,
  queryAllowlist: Object.freeze([]),
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
  errorReply,
  refuseCredential,
  readBody,
  clampOutput,
  isBilled,
  upstreamSigner,
});
