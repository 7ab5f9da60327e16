import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BedrockRuntimeServiceException, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { startGateway, UPSTREAM_BEDROCK, WRITER, type Gateway } from '../helpers/gateway.js';

/**
 * tollgate's AWS credential from the AWS SDK's default provider chain (TOLLGATE_BEDROCK_CREDENTIAL_CHAIN), as a
 * gateway on EKS, ECS or EC2 gets it (web identity, a task or instance role) without a key in its environment:
 * here from a shared credentials file, the chain's link that needs no network. The fake Bedrock verifies the
 * signature with the key in that file; a chain that finds no credential refuses the call (upstream_auth_failed),
 * nothing forwarded. The file and profile are this process's environment (the e2e project isolates each file).
 */

const SONNET = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-aws-'));
const CHAIN = { TOLLGATE_BEDROCK_ACCESS_KEY_ID: undefined, TOLLGATE_BEDROCK_SECRET_ACCESS_KEY: undefined, TOLLGATE_BEDROCK_CREDENTIAL_CHAIN: true };
let gw: Gateway;

beforeAll(async () => {
  const credentials = path.join(dir, 'credentials');
  fs.writeFileSync(credentials, `[tollgate-bedrock]\naws_access_key_id = ${UPSTREAM_BEDROCK.accessKeyId}\naws_secret_access_key = ${UPSTREAM_BEDROCK.secretAccessKey}\n`);
  fs.writeFileSync(path.join(dir, 'config'), '');
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI']) delete process.env[name];
  Object.assign(process.env, { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_PROFILE: 'tollgate-bedrock', AWS_EC2_METADATA_DISABLED: 'true' });
  gw = await startGateway(CHAIN);
});
afterAll(async () => {
  await gw?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Bedrock on the AWS SDK\'s default credential chain', () => {
  it('signs with the credential the chain found, and the call is metered', async () => {
    const key = await gw.key(WRITER.agent_id);
    await gw.allow(WRITER.agent_id, ['bedrock/claude-sonnet-4-5']);
    const answer = await gw.bedrock(key, WRITER).send(new ConverseCommand({ modelId: SONNET, messages: [{ role: 'user', content: [{ text: 'a tagline' }] }], inferenceConfig: { maxTokens: 16 } }));
    expect(answer.output?.message?.content?.[0]?.text).toBeTruthy();
    const sent = gw.upstream.requests.at(-1)!;
    expect(String(sent.headers.authorization)).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${UPSTREAM_BEDROCK.accessKeyId}/`));
    expect(gw.upstream.usageLog.at(-1)).toMatchObject({ provider: 'bedrock', status: 200, complete: true });
    await gw.flush();
    expect(await gw.app.tollgate.db('usage_events').where({ provider: 'bedrock', status: 200 })).toHaveLength(1);
  });

  it('refuses with upstream_auth_failed, nothing forwarded, when the chain finds no credential', async () => {
    process.env.AWS_PROFILE = 'no-such-profile';
    const lost = await startGateway(CHAIN);
    try {
      const key = await lost.key(WRITER.agent_id);
      await lost.allow(WRITER.agent_id, ['bedrock/claude-sonnet-4-5']);
      const err = await lost.bedrock(key, WRITER, { maxAttempts: 1 })
        .send(new ConverseCommand({ modelId: SONNET, messages: [{ role: 'user', content: [{ text: 'a tagline' }] }] }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BedrockRuntimeServiceException);
      expect((err as BedrockRuntimeServiceException).$metadata.httpStatusCode).toBe(502);
      expect(lost.upstream.requests).toHaveLength(0);
      await lost.flush();
      expect(await lost.app.tollgate.db('decision_log').where({ provider: 'bedrock', code: 'upstream_auth_failed' })).toHaveLength(1);
    } finally {
      await lost.close();
      process.env.AWS_PROFILE = 'tollgate-bedrock';
    }
  });
});
