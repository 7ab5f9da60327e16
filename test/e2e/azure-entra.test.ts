import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from 'openai';
import { startGateway, WRITER, type Gateway } from '../helpers/gateway.js';
import { ENTRA_APP } from '../helpers/entra.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { tokensOf, usageTotal } from '../helpers/ledger.js';

/** The deployments called here and the catalog models they are (seeds/catalog.json). */
const CATALOG_MODEL: Record<string, string> = { 'gpt-4.1': 'azure/gpt-4.1', 'gpt-4.1-mini': 'azure/gpt-4.1-mini' };
const SCOPE = 'https://cognitiveservices.azure.com/.default';

let gw: Gateway;
let writerKey: string;

beforeAll(async () => {
  gw = await startGateway({}, { entra: true });
  writerKey = await gw.key('campaign-writer');
});
afterAll(async () => gw?.close());

/** What went upstream for the last call carried tollgate's Entra token, alone: no key, no agent credential, no tags. */
function expectEntraToken(agentKey: string): string {
  const sent = gw.upstream.requests.at(-1)!;
  expect(sent.headers['api-key']).toBeUndefined();
  const token = /^Bearer (.+)$/.exec(String(sent.headers.authorization))?.[1];
  expect(token).toBeDefined();
  expect(token).not.toBe(agentKey);
  expect(gw.upstream.entra!.accepts(token!, 'https://cognitiveservices.azure.com')).toBe(true);
  expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-tollgate-'))).toEqual([]);
  expect(JSON.stringify(sent.headers)).not.toContain(agentKey);
  return token!;
}

async function expectMetered(requestId: string, deployment: string) {
  const billed = gw.upstream.usageLog.at(-1)!;
  expect(billed).toMatchObject({ provider: 'azure', status: 200, complete: true });
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId);
  expect(rows).toHaveLength(1);
  expect(tokensOf(rows[0])).toEqual(billed.usage);
  expect(rows[0]).toMatchObject({ provider: 'azure', model_requested: deployment, model_served: CATALOG_MODEL[deployment], status: 200, partial: false });
  expect(normalizeDecimal(rows[0].cost as string)).toBe(expectedCost(billed.usage, CATALOG_MODEL[deployment]!));
}

describe('Azure OpenAI with tollgate on a Microsoft Entra ID token', () => {
  it('fetches its token once for a burst of first calls, with the client-credentials grant for Azure OpenAI', async () => {
    await Promise.all(Array.from({ length: 5 }, () => gw.azure(writerKey, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] })));
    expect(gw.upstream.entra!.tokenRequests).toEqual([
      { tenant: ENTRA_APP.tenantId, grantType: 'client_credentials', clientId: ENTRA_APP.clientId, scope: SCOPE, status: 200 },
    ]);
  });

  it('sends its own bearer token (no api-key, no agent credential) and meters each call as the fake billed it', async () => {
    const client = gw.azure(writerKey, WRITER);
    const chat = await client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'a tagline for spring' }] }).withResponse();
    expect(chat.data.choices[0]?.message.content).toBeTruthy();
    const first = expectEntraToken(writerKey);
    await expectMetered(chat.response.headers.get('x-tollgate-request-id')!, 'gpt-4.1');

    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'three words about tea' }] })
      .withResponse();
    for await (const chunk of stream) expect(chunk.usage ?? null).toBeNull();
    expect(expectEntraToken(writerKey)).toBe(first);
    await expectMetered(response.headers.get('x-tollgate-request-id')!, 'gpt-4.1-mini');

    const answer = await client.responses.create({ model: 'gpt-4.1-mini', input: 'a haiku about invoices', max_output_tokens: 16 }).withResponse();
    expect(expectEntraToken(writerKey)).toBe(first);
    await expectMetered(answer.response.headers.get('x-tollgate-request-id')!, 'gpt-4.1-mini');
  });

  it('agrees with the fake on every call it served, per token kind', async () => {
    await gw.flush();
    const served = gw.upstream.usageLog.filter((r) => r.provider === 'azure' && r.status === 200);
    expect(served.length).toBe(8);
    const rows = await gw.app.tollgate.db('usage_events').where({ provider: 'azure', status: 200 });
    expect(usageTotal(rows.map(tokensOf))).toEqual(usageTotal(served.map((r) => r.usage)));
    // Still the one token: it is reused while it is valid, not fetched per call.
    expect(gw.upstream.entra!.tokenRequests).toHaveLength(1);
  });
});

describe('when tollgate cannot get its token: upstream_auth_failed (502) in the OpenAI shape, nothing forwarded', () => {
  async function expectAuthFailed(other: Gateway) {
    const key = await other.key('campaign-writer');
    const err = await other.azure(key, WRITER).chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(502);
    expect((err as APIError).code).toBe('upstream_auth_failed');
    expect((err as APIError).type).toBeTruthy();
    expect(other.upstream.requests).toEqual([]);
    await other.flush();
    const requestId = (err as APIError).headers?.get('x-tollgate-request-id');
    expect(await other.app.tollgate.db('decision_log').where('request_id', requestId!)).toMatchObject([{ provider: 'azure', allowed: false, code: 'upstream_auth_failed', http_status: 502 }]);
    expect(await other.app.tollgate.db('usage_events').where('request_id', requestId!)).toEqual([]);
  }

  it('refuses when the token endpoint refuses tollgate (a wrong client secret)', async () => {
    const other = await startGateway({ TOLLGATE_AZURE_CLIENT_SECRET: 'not-the-secret' }, { entra: true });
    try {
      await expectAuthFailed(other);
      expect(other.upstream.entra!.tokenRequests.at(-1)).toMatchObject({ clientId: ENTRA_APP.clientId, status: 401 });
    } finally {
      await other.close();
    }
  });

  it('refuses when the token endpoint is down', async () => {
    const other = await startGateway({ TOLLGATE_AZURE_AUTHORITY_HOST: `https://127.0.0.1:${await closedPort()}` }, { entra: true });
    try {
      await expectAuthFailed(other);
      expect(other.upstream.entra!.tokenRequests).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
