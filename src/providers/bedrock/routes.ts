import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { ProviderSettings } from '../../config.js';
import type { PathCall, PathProblem, UpstreamSigner } from '../types.js';

/**
 * Bedrock runtime's paths below `/model` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_Operations_Amazon_Bedrock_Runtime.html):
 * `/model/{modelId}/converse`, `/converse-stream`, `/invoke`, `/invoke-with-response-stream`. The SDKs URL-encode the
 * model id (`anthropic.claude-sonnet-4-5-20250929-v1%3A0`). tollgate takes a foundation model id or a cross-region
 * inference profile id (`us.anthropic…`, `global.anthropic…`), which the catalog maps to its models; an ARN (a
 * provisioned model, an application inference profile, an imported model) names something in an account the
 * catalog cannot price, and is refused.
 */
const CALL = /^\/([^/]{1,512})\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;
const MODEL_ID = /^[a-z0-9-]+\.[A-Za-z0-9._:-]{1,200}$/;
/** A cross-region inference profile's geography prefix (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html). */
const PROFILE = /^(us|eu|apac|jp|au|ca|us-gov|global)\./;

/** What /bedrock lists as forwarded, below /bedrock/model. */
export const PATHS: readonly string[] = Object.freeze([
  '/{modelId}/converse', '/{modelId}/converse-stream', '/{modelId}/invoke', '/{modelId}/invoke-with-response-stream',
]);

export function routePath(path: string): PathCall | PathProblem | null {
  const call = CALL.exec(path);
  if (!call) return null;
  const [, encoded, action] = call as unknown as [string, string, string];
  const model = decoded(encoded);
  if (model === undefined || model.startsWith('arn:')) {
    return { problem: 'invalid request: tollgate takes a Bedrock model id or cross-region inference profile id (anthropic.claude-…, us.anthropic.claude-…), not an ARN' };
  }
  if (!MODEL_ID.test(model)) return { problem: `invalid request: ${JSON.stringify(model.slice(0, 64))} is not a Bedrock model id` };
  // A model tollgate picks (a downgrade) goes up behind the profile the agent chose: newer models run on-demand only
  // through an inference profile, and the geography is the agent's (data residency).
  const profile = PROFILE.exec(model)?.[0] ?? '';
  const upstreamId = (served: string) => (PROFILE.test(served) ? served : `${profile}${served}`);
  return { endpoint: `/${action}`, model, upstreamPath: (served) => `/${encodeURIComponent(upstreamId(served))}/${action}` };
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * tollgate's own AWS credential signs every upstream call with SigV4 (service `bedrock`, the configured region),
 * over the body as sent. Only the host is signed besides SigV4's own x-amz-* headers, so the proxy's framing
 * headers may be set after. The credential is the key id and secret given to tollgate or, when the operator turns
 * it on, the AWS SDK's default provider chain (environment, shared config and SSO profiles, web identity on EKS,
 * ECS and EC2 instance roles), which caches the credential and refreshes it before it expires; loaded on first use.
 * Neither: Bedrock is not configured.
 */
export function upstreamSigner(settings: ProviderSettings): UpstreamSigner | null {
  const aws = settings.aws;
  const credentials = aws?.accessKeyId && aws.secretAccessKey
    ? { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey, ...(aws.sessionToken ? { sessionToken: aws.sessionToken } : {}) }
    : aws?.chain === true ? providerChain() : null;
  if (aws === undefined || credentials === null) return null;
  const signer = new SignatureV4({ service: 'bedrock', region: aws.region, credentials, sha256: Sha256 });
  return async ({ url, body }) => {
    const signed = await signer.sign({
      method: 'POST', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { host: url.host }, body,
    });
    const { host: _host, ...headers } = signed.headers;
    return headers;
  };
}

/** The AWS SDK's default credential chain, imported on the first call that needs it (it memoizes and refreshes). */
function providerChain(): AwsCredentialIdentityProvider {
  let provider: Promise<AwsCredentialIdentityProvider> | undefined;
  return async () => {
    provider ??= import('@aws-sdk/credential-provider-node').then(({ defaultProvider }) => defaultProvider());
    return (await provider)();
  };
}
