import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { startFakeUpstream, type FakeUpstream } from '../../../src/demo/fake-upstream.js';

/** The fake Vertex AI only takes what Google takes: a grant signed by the service account's key, then its tokens. */

const EMAIL = 'gateway@billing-project.iam.gserviceaccount.com';
const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const account = pair();
const stranger = pair();

let up: FakeUpstream;

beforeAll(async () => {
  up = await startFakeUpstream({
    openaiKey: 'o', anthropicKey: 'a',
    vertex: { project: 'billing-project', location: 'us-east5', clientEmail: EMAIL, publicKeyPem: account.publicKey.export({ type: 'spki', format: 'pem' }) as string },
  });
});
afterAll(() => up.close());

function assertion(key: KeyObject, claims: Record<string, unknown> = {}) {
  return new SignJWT({ scope: 'https://www.googleapis.com/auth/cloud-platform', ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuer(EMAIL).setAudience('https://oauth2.googleapis.com/token')
    .setIssuedAt().setExpirationTime('1h').sign(key);
}

async function grant(jwt: string) {
  const res = await fetch(`${up.url}/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt }).toString(),
  });
  return { status: res.status, json: (await res.json()) as { access_token?: string; error?: string; expires_in?: number } };
}

const generate = (token: string, project = 'billing-project', model = 'gemini-2.5-flash') =>
  fetch(`${up.url}/v1/projects/${project}/locations/us-east5/publishers/google/models/${model}:generateContent`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
  });

describe('fake Vertex AI token endpoint and routes', () => {
  it('mints a token for a grant the service account signed, and refuses one another key signed, or for another scope', async () => {
    const good = await grant(await assertion(account.privateKey));
    expect(good).toMatchObject({ status: 200, json: { token_type: 'Bearer', expires_in: 3599, access_token: expect.stringMatching(/^ya29\./) } });
    expect(await grant(await assertion(stranger.privateKey))).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(await grant(await assertion(account.privateKey, { scope: 'https://www.googleapis.com/auth/drive' }))).toMatchObject({ status: 400, json: { error: 'invalid_scope' } });
    expect(up.vertexTokens.minted).toEqual([good.json.access_token]);
  });

  it('serves only its tokens, on its project, for models it has', async () => {
    const { json } = await grant(await assertion(account.privateKey));
    const ok = await generate(json.access_token!);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ usageMetadata: { promptTokenCount: expect.any(Number) } });
    expect((await generate('ya29.not-minted')).status).toBe(401);
    const otherProject = await generate(json.access_token!, 'agent-project');
    expect([otherProject.status, ((await otherProject.json()) as { error: { status: string } }).error.status]).toEqual([403, 'PERMISSION_DENIED']);
    expect((await generate(json.access_token!, 'billing-project', 'gemini-0')).status).toBe(404);
  });
});
