import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderSettings } from '../../config.js';
import type { HeaderRules } from '../types.js';

/**
 * Requests: the body's framing and the SDK's name. tollgate's SigV4 signature (upstreamSigner, in routes.ts) is
 * set on each call; the agent's Authorization (its tollgate key, or an AWS signature tollgate refuses), its
 * x-amz-* signing headers, and Bedrock's options that change the price or reach into the account (guardrails,
 * latency-optimized performance, service tier) never go up. Answers: the framing, Bedrock's request id, error
 * type and token counts; nothing else.
 */
const REQUEST = ['accept', 'user-agent', 'x-amzn-bedrock-accept'];
const RESPONSE = ['content-type', 'content-length', 'content-encoding', 'x-amzn-requestid', 'x-amzn-errortype', 'retry-after'];

export function headerRules(_settings: ProviderSettings): HeaderRules {
  return { request: REQUEST, requestLists: {}, set: {}, response: RESPONSE, responsePrefixes: ['x-amzn-bedrock-'] };
}

/**
 * The AWS SDKs sign with the caller's AWS keys unless given a bearer token: such a request carries someone's AWS
 * signature and no tollgate credential. It is refused with a message that says what tollgate takes, rather than
 * read as an unknown key (and never forwarded: the signature is the agent's, not tollgate's).
 */
const AWS_SIGNATURE = /^AWS4-HMAC-SHA256\s/i;

export function refuseCredential(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth !== 'string' || !AWS_SIGNATURE.test(auth)) return undefined;
  return 'tollgate does not take AWS signatures: send your tollgate agent key as the Bedrock API key (bearer token): the AWS SDK\'s token option or AWS_BEARER_TOKEN_BEDROCK, or AnthropicBedrock\'s apiKey.';
}
