import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  startGateway, tagHeaders, PROMO, WRITER, FORECASTER, UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY, type Gateway, type Tags,
} from '../helpers/gateway.js';

const ISSUER = 'https://broker.example.test';
const AUDIENCE = 'tollgate';
const KID = 'broker-key-1';

type Broker = { url: string; fetches: number; close(): Promise<void> };

/** A stand-in identity broker: its JWKS on 127.0.0.1, the way tollgate would fetch the real one. */
async function startBroker(jwk: JWK): Promise<Broker> {
  const broker = { url: '', fetches: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
    broker.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  broker.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  broker.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return broker;
}

let gw: Gateway;
let broker: Broker;
let brokerKey: CryptoKey;
let impostorKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  brokerKey = pair.privateKey;
  impostorKey = (await generateKeyPair('RS256')).privateKey;
  broker = await startBroker({ ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' });
  gw = await startGateway({ TOLLGATE_JWKS_URL: broker.url, TOLLGATE_JWT_ISSUER: ISSUER, TOLLGATE_JWT_AUDIENCE: AUDIENCE });
});
afterAll(async () => {
  await gw?.close();
  await broker?.close();
});

type TokenOptions = {
  agent?: string | null; key?: CryptoKey; kid?: string; issuer?: string; audience?: string; expiresAt?: number | null; issuedAt?: number | null;
};

/** A broker JWT naming `agent` in tollgate_agent_id (the default claim); every field can be spoiled. */
async function brokerJwt(o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = o.agent === null ? {} : { tollgate_agent_id: o.agent ?? 'campaign-writer' };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? KID })
    .setSubject('svc-account-42')
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE);
  if (o.issuedAt !== null) jwt.setIssuedAt(o.issuedAt ?? now - 120);
  if (o.expiresAt !== null) jwt.setExpirationTime(o.expiresAt ?? now + 300);
  return jwt.sign(o.key ?? brokerKey);
}

const CHAT = { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hello' }] };

/** A chat completion with exactly the headers given (no SDK in between). */
async function chat(headers: Record<string, string>, tags: Partial<Tags> = WRITER) {
  const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...tagHeaders(tags), ...headers },
    body: JSON.stringify(CHAT),
  });
  return { res, json: (await res.json()) as { error?: { code: string; message: string } } };
}

async function ledgerRow(res: Response) {
  await gw.flush();
  const requestId = res.headers.get('x-tollgate-request-id');
  expect(requestId).toBeTruthy();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId!);
  expect(rows).toHaveLength(1);
  return rows[0];
}

async function decisionRow(headers: Headers) {
  await gw.flush();
  const requestId = headers.get('x-tollgate-request-id');
  expect(requestId).toBeTruthy();
  const rows = await gw.app.tollgate.db('decision_log').where('request_id', requestId!);
  expect(rows).toHaveLength(1);
  return rows[0];
}

/** The upstream request that answered `res` (the fake stamps its own id on the answer). */
function upstreamOf(res: Response) {
  const id = res.headers.get('x-request-id') ?? res.headers.get('request-id');
  const req = gw.upstream.requests.find((r) => r.id === id);
  expect(req).toBeDefined();
  return req!;
}

describe('agent keys', () => {
  it('accepts a key as Authorization: Bearer and meters the call to its agent', async () => {
    const key = await gw.key('campaign-writer');
    const { res } = await chat({ authorization: `Bearer ${key}` });
    expect(res.status).toBe(200);
    expect((await ledgerRow(res)).agent_id).toBe('campaign-writer');
    const sent = upstreamOf(res);
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
    expect(JSON.stringify(sent.headers)).not.toContain(key);
  });

  it('accepts a key as x-api-key and strips it before forwarding', async () => {
    const key = await gw.key('campaign-writer');
    const { res } = await chat({ 'x-api-key': key });
    expect(res.status).toBe(200);
    expect((await ledgerRow(res)).agent_id).toBe('campaign-writer');
    const sent = upstreamOf(res);
    expect(sent.headers['x-api-key']).toBeUndefined();
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
    expect(JSON.stringify(sent.headers)).not.toContain(key);
  });

  it('takes a key in x-api-key on the Anthropic route too, replacing it with the provider key', async () => {
    const key = await gw.key('promo-planner');
    const res = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key, ...tagHeaders(PROMO) },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(upstreamOf(res).headers['x-api-key']).toBe(UPSTREAM_ANTHROPIC_KEY);
    expect((await ledgerRow(res)).agent_id).toBe('promo-planner');
  });

  it('stores only a hash of the key: no column of agent_keys holds the key', async () => {
    const key = await gw.key('inventory-optimizer');
    const rows = await gw.app.tollgate.db('agent_keys').where('agent_id', 'inventory-optimizer');
    expect(rows).toHaveLength(1);
    const sha256 = crypto.createHash('sha256').update(key).digest('hex');
    expect(Object.values(rows[0]!)).toContain(sha256);
    for (const [column, value] of Object.entries(rows[0]!)) {
      expect(String(value), column).not.toContain(key);
      // Nor any encoding of the key's secret part.
      expect(String(value), column).not.toContain(key.slice(10));
    }
  });
});

describe('broker JWTs', () => {
  it('accepts a valid JWT through the OpenAI SDK and meters the call to the agent it names', async () => {
    const jwt = await brokerJwt({ agent: 'campaign-writer' });
    const { data, response } = await gw.openai(jwt, WRITER).chat.completions.create(CHAT as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const row = await ledgerRow(response);
    expect(row).toMatchObject({ agent_id: 'campaign-writer', bu_id: 'marketing', status: 200 });
    const sent = upstreamOf(response);
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
    expect(JSON.stringify(sent)).not.toContain(jwt);
    expect(JSON.stringify(sent)).not.toContain(jwt.split('.')[2]);
    expect(broker.fetches).toBeGreaterThan(0);
  });

  it('accepts a valid JWT through the Anthropic SDK, never forwarding it', async () => {
    const jwt = await brokerJwt({ agent: 'demand-forecaster' });
    const { response } = await gw.anthropic(jwt, FORECASTER)
      .messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect((await ledgerRow(response)).agent_id).toBe('demand-forecaster');
    const sent = upstreamOf(response);
    expect(sent.headers['x-api-key']).toBe(UPSTREAM_ANTHROPIC_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent)).not.toContain(jwt.split('.')[2]);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const INVALID: { name: string; token: () => Promise<string> }[] = [
    { name: 'an expired JWT', token: () => brokerJwt({ expiresAt: now() - 60 }) },
    // A broker token without exp would never expire: a leaked one would work forever.
    { name: 'a JWT that never expires (no exp)', token: () => brokerJwt({ expiresAt: null }) },
    { name: 'a JWT signed by another key under the broker kid', token: () => brokerJwt({ key: impostorKey }) },
    { name: 'a JWT signed by another key under an unknown kid', token: () => brokerJwt({ key: impostorKey, kid: 'rogue' }) },
    { name: 'a JWT for another audience', token: () => brokerJwt({ audience: 'some-other-service' }) },
    { name: 'a JWT from another issuer', token: () => brokerJwt({ issuer: 'https://evil.example.test' }) },
    { name: 'a JWT without the agent claim', token: () => brokerJwt({ agent: null }) },
    { name: 'an unsigned JWT (alg none)', token: async () => unsigned(await brokerJwt()) },
    { name: 'a JWT with a tampered payload', token: async () => tampered(await brokerJwt({ agent: 'promo-planner' }), 'campaign-writer') },
    // Issue 16 item 13: lifetimes were unbounded (a 10-year token was accepted); TOLLGATE_JWT_MAX_LIFETIME_S, 1 day here.
    { name: 'a JWT without iat', token: () => brokerJwt({ issuedAt: null }) },
    { name: 'a JWT issued for ten years', token: () => brokerJwt({ issuedAt: now(), expiresAt: now() + 10 * 365 * 86_400 }) },
    { name: 'a JWT issued more than a day ago, not yet expired', token: () => brokerJwt({ issuedAt: now() - 86_400 - 60, expiresAt: now() + 60 }) },
    { name: 'a JWT whose agent claim is no tag', token: () => brokerJwt({ agent: 'campaign writer' }) },
  ];

  it.each(INVALID)('rejects $name with 401 invalid_credential, before the upstream', async ({ token }) => {
    const upstreamBefore = gw.upstream.requests.length;
    const err = await gw.openai(await token(), WRITER).chat.completions
      .create(CHAT as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .then(() => expect.fail('expected a 401'), (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_credential');
    expect(err.headers?.get('x-tollgate-error-code')).toBe('invalid_credential');
    expect(gw.upstream.requests.length).toBe(upstreamBefore);
  });

  it('says why a JWT issued for too long is refused', async () => {
    const jwt = await brokerJwt({ issuedAt: now(), expiresAt: now() + 86_400 + 1 });
    const { res, json } = await chat({ authorization: `Bearer ${jwt}` });
    expect(res.status).toBe(401);
    expect(json.error).toMatchObject({ code: 'invalid_credential', message: 'invalid credential: jwt_lifetime_too_long' });
    const fine = await chat({ authorization: `Bearer ${await brokerJwt({ issuedAt: now(), expiresAt: now() + 86_400 })}` });
    expect(fine.res.status).toBe(200);
  });

  it('rejects a JWT naming another agent than the agent id tag with 403 agent_id_mismatch', async () => {
    const jwt = await brokerJwt({ agent: 'promo-planner' });
    const upstreamBefore = gw.upstream.requests.length;
    const err = await gw.anthropic(jwt, { ...PROMO, agent_id: 'demand-forecaster' })
      .messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .then(() => expect.fail('expected a 403'), (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((err.error as { error: { code: string; message: string } }).error).toMatchObject({ code: 'agent_id_mismatch', message: expect.stringContaining('promo-planner') });
    expect(gw.upstream.requests.length).toBe(upstreamBefore);
    // Attributed to the agent the JWT names, never to the one the tag claims (kept apart in `claimed`).
    expect(await decisionRow(err.headers!)).toMatchObject({
      code: 'agent_id_mismatch', agent_id: 'promo-planner', bu_id: 'marketing', http_status: 403,
      claimed: { bu: 'marketing', use_case: PROMO.use_case, agent_id: 'demand-forecaster', session_id: PROMO.session_id },
    });
  });

  it('rejects a valid JWT naming an agent the catalog does not know with 403 unknown_agent', async () => {
    const jwt = await brokerJwt({ agent: 'ghost-agent' });
    const { res, json } = await chat({ authorization: `Bearer ${jwt}` }, { ...WRITER, agent_id: 'ghost-agent' });
    expect(res.status).toBe(403);
    expect(json.error?.code).toBe('unknown_agent');
    expect(await decisionRow(res.headers)).toMatchObject({ code: 'unknown_agent', allowed: false });
  });
});

/** The same claims with alg "none" and no signature. */
function unsigned(jwt: string): string {
  const [, payload] = jwt.split('.');
  return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
}

/** The broker's signature over different claims. */
function tampered(jwt: string, agent: string): string {
  const [header, payload, signature] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  claims.tollgate_agent_id = agent;
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}
