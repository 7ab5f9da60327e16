import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../../src/demo/fake-upstream.js';
import { upstreamSigner } from '../../../src/providers/bedrock/routes.js';
import type { UpstreamSigner } from '../../../src/providers/types.js';

const CREDENTIAL = { accessKeyId: 'AKIAFAKEBEDROCK00001', secretAccessKey: 'fake-bedrock-secret-0123456789abcdef0123', region: 'us-west-2' };
const PATH = '/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/converse';
const BODY = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hello there' }] }], inferenceConfig: { maxTokens: 4 } });

let up: FakeUpstream;
let sign: UpstreamSigner;

beforeAll(async () => {
  up = await startFakeUpstream({ openaiKey: 'o', anthropicKey: 'a', bedrock: CREDENTIAL });
  sign = signerFor(CREDENTIAL.secretAccessKey);
});
afterAll(() => up.close());
beforeEach(() => up.reset());

function signerFor(secretAccessKey: string): UpstreamSigner {
  return upstreamSigner({ baseUrl: up.url, aws: { ...CREDENTIAL, secretAccessKey } })!;
}

async function post(path: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${up.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, type: res.headers.get('x-amzn-errortype')?.split(':')[0], json: (await res.json()) as Record<string, unknown> };
}

describe("fake upstream, Bedrock's SigV4 check", () => {
  it('serves a call signed with its credential over the body as sent', async () => {
    const headers = await sign({ url: new URL(PATH, up.url), body: BODY });
    const res = await post(PATH, BODY, headers);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ usage: { outputTokens: 4 } });
    expect(up.usageLog[0]).toMatchObject({ provider: 'bedrock', model: 'anthropic.claude-haiku-4-5-20251001-v1:0', complete: true });
  });

  it('refuses another secret, a changed body, another path, a bearer token and no signature', async () => {
    const signed = await sign({ url: new URL(PATH, up.url), body: BODY });
    const wrongSecret = await post(PATH, BODY, await signerFor('another-secret-0123456789abcdef0123456789')({ url: new URL(PATH, up.url), body: BODY }));
    expect([wrongSecret.status, wrongSecret.type]).toEqual([403, 'InvalidSignatureException']);
    const changed = await post(PATH, BODY.replace('hello', 'hullo'), signed);
    expect([changed.status, changed.type]).toEqual([403, 'InvalidSignatureException']);
    const otherPath = await post(PATH.replace('haiku', 'sonnet').replace('20251001', '20250929'), BODY, signed);
    expect([otherPath.status, otherPath.type]).toEqual([403, 'InvalidSignatureException']);
    const bearer = await post(PATH, BODY, { authorization: 'Bearer tg_agent_key' });
    expect([bearer.status, bearer.type]).toEqual([403, 'UnrecognizedClientException']);
    const none = await post(PATH, BODY, {});
    expect(none.status).toBe(403);
    expect(up.usageLog.every((r) => r.status === 403)).toBe(true);
  });

  it('refuses a model it does not serve, and a non-Anthropic InvokeModel body, as ValidationException', async () => {
    const path = '/model/amazon.nova-pro-v1%3A0/converse';
    const unknown = await post(path, BODY, await sign({ url: new URL(path, up.url), body: BODY }));
    expect([unknown.status, unknown.type]).toEqual([400, 'ValidationException']);
    const invoke = '/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke';
    const titan = JSON.stringify({ inputText: 'hi' });
    const refused = await post(invoke, titan, await sign({ url: new URL(invoke, up.url), body: titan }));
    expect([refused.status, refused.type]).toEqual([400, 'ValidationException']);
  });
});
