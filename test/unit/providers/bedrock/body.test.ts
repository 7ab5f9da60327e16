import { describe, expect, it } from 'vitest';
import { clampOutput, readBody } from '../../../../src/providers/bedrock/body.js';
import { errorReply } from '../../../../src/providers/bedrock/errors.js';
import { routePath, upstreamSigner } from '../../../../src/providers/bedrock/routes.js';
import { refuseCredential } from '../../../../src/providers/bedrock/headers.js';

const converse = (extra: object = {}) => ({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], ...extra });
const thinking = (budget: number) => ({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: budget } } });

describe('Bedrock bodies', () => {
  it('reads Converse\'s nested output limit', () => {
    expect(readBody('/converse', converse({ inferenceConfig: { maxTokens: 300 } }))).toMatchObject({ ok: true, outputLimit: 300, worstOutput: 300, choices: 1, minOutput: 1 });
    expect(readBody('/converse-stream', converse())).toMatchObject({ ok: true, outputLimit: null, worstOutput: 4096 });
    expect(readBody('/converse', converse({ inferenceConfig: { maxTokens: 0 } }))).toEqual({ ok: false, message: 'invalid request: inferenceConfig.maxTokens must be a whole number from 1 to 1000000' });
    expect(readBody('/converse', converse({ inferenceConfig: [] }))).toMatchObject({ ok: false });
  });

  it('keeps room for the least thinking budget, and refuses a budget below it', () => {
    expect(readBody('/converse', converse({ inferenceConfig: { maxTokens: 4096 }, ...thinking(2048) }))).toMatchObject({ ok: true, minOutput: 1025 });
    expect(readBody('/converse', converse({ inferenceConfig: { maxTokens: 4096 }, ...thinking(10) }))).toMatchObject({ ok: false });
  });

  it('clamps maxTokens and keeps the thinking budget below it', () => {
    const body = converse({ inferenceConfig: { maxTokens: 4096, temperature: 1 }, ...thinking(2048) });
    const clamped = clampOutput('/converse', body, 1500) as { inferenceConfig: object; additionalModelRequestFields: { thinking: object } };
    expect(clamped.inferenceConfig).toEqual({ maxTokens: 1500, temperature: 1 });
    expect(clamped.additionalModelRequestFields.thinking).toEqual({ type: 'enabled', budget_tokens: 1499 });
    expect(clampOutput('/converse', converse(), 200)).toMatchObject({ inferenceConfig: { maxTokens: 200 } });
    expect(clampOutput('/converse', converse({ inferenceConfig: { maxTokens: 100 } }), 200)).toMatchObject({ inferenceConfig: { maxTokens: 100 } });
  });

  it('takes InvokeModel bodies in Anthropic\'s Messages format only, without a model', () => {
    const messages = { anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };
    expect(readBody('/invoke', messages)).toMatchObject({ ok: true, outputLimit: 64 });
    expect(readBody('/invoke', { inputText: 'hi' })).toMatchObject({ ok: false, message: expect.stringContaining('Messages format') });
    expect(readBody('/invoke', { ...messages, model: 'x' })).toMatchObject({ ok: false });
    expect(clampOutput('/invoke-with-response-stream', { ...messages, thinking: { type: 'enabled', budget_tokens: 2048 }, max_tokens: 4096 }, 1500))
      .toMatchObject({ max_tokens: 1500, thinking: { budget_tokens: 1499 } });
  });
});

describe('Bedrock paths', () => {
  it('takes model ids and inference profiles, URL-encoded or not', () => {
    expect(routePath('/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse')).toMatchObject({ endpoint: '/converse', model: 'anthropic.claude-sonnet-4-5-20250929-v1:0' });
    const call = routePath('/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream');
    expect(call).toMatchObject({ endpoint: '/invoke-with-response-stream', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' });
    expect((call as { upstreamPath(m: string): string }).upstreamPath('us.anthropic.claude-haiku-4-5-20251001-v1:0')).toBe('/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke-with-response-stream');
  });

  it('sends a model tollgate picks behind the inference profile the agent chose, and a foundation id as it is', () => {
    const profiled = routePath('/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse') as { upstreamPath(m: string): string };
    expect(profiled.upstreamPath('anthropic.claude-haiku-4-5-20251001-v1:0')).toBe('/eu.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse');
    const foundation = routePath('/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse') as { upstreamPath(m: string): string };
    expect(foundation.upstreamPath('anthropic.claude-haiku-4-5-20251001-v1:0')).toBe('/anthropic.claude-haiku-4-5-20251001-v1%3A0/converse');
  });

  it('refuses ARNs and what is no model id, and knows no other action', () => {
    expect(routePath(`/${encodeURIComponent('arn:aws:bedrock:us-east-1:123456789012:provisioned-model/x')}/converse`)).toMatchObject({ problem: expect.stringContaining('not an ARN') });
    expect(routePath('/%E0%A4%A/converse')).toMatchObject({ problem: expect.any(String) });
    expect(routePath('/nodot/converse')).toMatchObject({ problem: expect.any(String) });
    expect(routePath('/anthropic.claude-x/count-tokens')).toBeNull();
  });
});

describe('Bedrock refusals', () => {
  it('makes the hard caps a 400 the AWS SDK does not retry, and budget_busy a ThrottlingException it does', () => {
    expect(errorReply({ status: 429, code: 'budget_exhausted', message: '' })).toEqual({ status: 400, headers: { 'x-amzn-errortype': 'ServiceQuotaExceededException:http://internal.amazon.com/coral/com.amazon.bedrock/' } });
    expect(errorReply({ status: 429, code: 'session_budget_exhausted', message: '' }).status).toBe(400);
    expect(errorReply({ status: 429, code: 'budget_busy', message: '' })).toEqual({ status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' } });
    expect(errorReply({ status: 401, code: 'missing_credential', message: '' })).toMatchObject({ status: 403, headers: { 'x-amzn-errortype': expect.stringMatching(/^AccessDeniedException:/) } });
    expect(errorReply({ status: 404, code: 'unsupported_endpoint', message: '' }).headers['x-amzn-errortype']).toMatch(/^ResourceNotFoundException:/);
    expect(errorReply({ status: 503, code: 'provider_not_configured', message: '' }).headers['x-amzn-errortype']).toMatch(/^ServiceUnavailableException:/);
  });

  it('refuses an AWS signature as a credential, nothing else', () => {
    expect(refuseCredential({ authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00' })).toMatch(/bearer token/);
    expect(refuseCredential({ authorization: 'Bearer tg_x' })).toBeUndefined();
    expect(refuseCredential({})).toBeUndefined();
  });
});

describe('the SigV4 signer', () => {
  it('is absent without a key, and signs host and body with service bedrock in the region', async () => {
    expect(upstreamSigner({ baseUrl: 'http://x', aws: { region: 'us-east-1' } })).toBeNull();
    const sign = upstreamSigner({ baseUrl: 'http://x', aws: { region: 'eu-west-3', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' } })!;
    const headers = await sign({ url: new URL('https://bedrock-runtime.eu-west-3.amazonaws.com/model/a.b%3A0/converse'), body: '{}' });
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-3\/bedrock\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
    expect(headers).toMatchObject({ 'x-amz-security-token': 'session', 'x-amz-content-sha256': '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' });
    expect(headers.host).toBeUndefined();
  });
});
