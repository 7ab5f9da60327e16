import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, tagHeaders, PROMO, type Gateway, type Tags } from '../helpers/gateway.js';
import { revokeAgentKey } from '../../src/db/agent-keys.js';
import { generateAgentKey, hashAgentKey } from '../../src/identity/keys.js';
import { ERRORS, type ErrorCode } from '../../src/errors.js';

type Route = 'openai' | 'anthropic';
const ROUTES: readonly Route[] = ['openai', 'anthropic'];

/** A model promo-planner may use on each route. */
const ALLOWED_MODEL: Record<Route, string> = { openai: 'gpt-4.1-mini', anthropic: 'claude-haiku-4-5' };

/** What the caller saw of a rejection, whichever client made the call. */
type Rejection = { status: number; code: unknown; headers: Headers; message: string };

let gw: Gateway;
let promoKey: string;
let revokedKey: string;

beforeAll(async () => {
  gw = await startGateway();
  promoKey = await gw.key('promo-planner');
  revokedKey = await gw.key('promo-planner');
  const revoked = await revokeAgentKey(gw.app.tollgate.db, { hash: hashAgentKey(revokedKey) });
  expect(revoked?.agent_id).toBe('promo-planner');
});
afterAll(async () => gw?.close());

// --- clients --------------------------------------------------------------------------------------

/** `key: null` sends no credential at all (both SDKs drop a header set to null). */
function openaiClient(key: string | null, tags: Partial<Tags>, extra: Record<string, string> = {}): OpenAI {
  return new OpenAI({
    apiKey: key ?? 'unused', baseURL: `${gw.url}/openai/v1`, maxRetries: 0,
    defaultHeaders: { ...tagHeaders(tags), ...extra, ...(key === null ? { authorization: null } : {}) },
  });
}

function anthropicClient(key: string | null, tags: Partial<Tags>, extra: Record<string, string> = {}): Anthropic {
  return new Anthropic({
    apiKey: key, authToken: null, baseURL: `${gw.url}/anthropic`, maxRetries: 0,
    defaultHeaders: { ...tagHeaders(tags), ...extra, ...(key === null ? { authorization: null, 'x-api-key': null } : {}) },
  });
}

async function rejected(call: Promise<unknown>): Promise<unknown> {
  return call.then(() => expect.fail('the call was expected to be rejected'), (err: unknown) => err);
}

/** OpenAI's shape: { error: { message, type, param, code } }; the SDK exposes the inner object. */
function fromOpenAI(err: unknown, status: number): Rejection {
  expect(err).toBeInstanceOf(OpenAI.APIError);
  const e = err as InstanceType<typeof OpenAI.APIError>;
  expect(e.error).toMatchObject({ message: expect.any(String), type: openaiType(status), code: e.code });
  expect(e.headers).toBeDefined();
  return { status: e.status!, code: e.code, headers: e.headers!, message: (e.error as { message: string }).message };
}

/** Anthropic's shape: { type: 'error', error: { type, message, code } }; the SDK exposes the whole body. */
function fromAnthropic(err: unknown, status: number): Rejection {
  expect(err).toBeInstanceOf(Anthropic.APIError);
  const e = err as InstanceType<typeof Anthropic.APIError>;
  const body = e.error as { type: string; error: { type: string; message: string; code: string } };
  expect(body).toMatchObject({ type: 'error', error: { type: anthropicType(status), message: expect.any(String) } });
  expect(e.type).toBe(anthropicType(status));
  expect(e.headers).toBeDefined();
  return { status: e.status!, code: body.error.code, headers: e.headers!, message: body.error.message };
}

function openaiType(status: number): string {
  return ({ 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error' } as Record<number, string>)[status] ?? 'invalid_request_error';
}

function anthropicType(status: number): string {
  return ({ 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error' } as Record<number, string>)[status] ?? 'invalid_request_error';
}

function chatBody(model: string | undefined) {
  return { ...(model === undefined ? {} : { model }), messages: [{ role: 'user' as const, content: 'hello' }] } as OpenAI.ChatCompletionCreateParamsNonStreaming;
}

function messageBody(model: string | undefined) {
  return { ...(model === undefined ? {} : { model }), max_tokens: 16, messages: [{ role: 'user' as const, content: 'hello' }] } as Anthropic.MessageCreateParamsNonStreaming;
}

async function callRoute(route: Route, key: string | null, tags: Partial<Tags>, model: string | undefined, extra?: Record<string, string>, status = 400): Promise<Rejection> {
  if (route === 'openai') return fromOpenAI(await rejected(openaiClient(key, tags, extra).chat.completions.create(chatBody(model))), status);
  return fromAnthropic(await rejected(anthropicClient(key, tags, extra).messages.create(messageBody(model))), status);
}

// --- what every rejection must leave behind -------------------------------------------------------

async function count(table: 'usage_events' | 'decision_log'): Promise<number> {
  const [row] = await gw.app.tollgate.db(table).count({ n: '*' });
  return Number(row!.n);
}

/** Runs the call and checks the answer, the upstream, the ledger and the decision log. */
async function expectRejection(code: ErrorCode, run: () => Promise<Rejection>): Promise<Rejection> {
  await gw.flush();
  const upstreamBefore = gw.upstream.requests.length;
  const usageBefore = await count('usage_events');
  const r = await run();
  const status = ERRORS[code].status;
  expect(r.status).toBe(status);
  expect(r.code).toBe(code);
  expect(r.headers.get('x-tollgate-error-code')).toBe(code);
  expect(gw.upstream.requests.length).toBe(upstreamBefore);
  const requestId = r.headers.get('x-tollgate-request-id');
  expect(requestId).toBeTruthy();
  await gw.flush();
  expect(await gw.app.tollgate.db('usage_events').where('request_id', requestId!)).toHaveLength(0);
  expect(await count('usage_events')).toBe(usageBefore);
  const logged = await gw.app.tollgate.db('decision_log').where('request_id', requestId!);
  expect(logged).toHaveLength(1);
  expect(logged[0]).toMatchObject({ code, http_status: status, allowed: false });
  return r;
}

// --- the table ------------------------------------------------------------------------------------

type Case = {
  name: string;
  code: ErrorCode;
  key?: () => string | null;
  tags?: Partial<Tags>;
  extra?: Record<string, string>;
  /** The model per route; `null` leaves it out of the body. Defaults to one the agent may use. */
  model?: Partial<Record<Route, string | null>>;
  message?: RegExp;
};

function without(tag: keyof Tags): Partial<Tags> {
  const tags: Partial<Tags> = { ...PROMO };
  delete tags[tag];
  return tags;
}

const TAG_HEADER: Record<keyof Tags, string> = { bu: 'x-tollgate-bu', use_case: 'x-tollgate-use-case', agent_id: 'x-tollgate-agent-id', session_id: 'x-tollgate-session-id' };

const CASES: Case[] = [
  ...(['bu', 'use_case', 'agent_id', 'session_id'] as const).map((tag): Case => ({
    name: `missing ${tag} tag`, code: 'missing_tag', tags: without(tag),
    message: new RegExp(`missing tag: ${tag}\\b.*${TAG_HEADER[tag]}`),
  })),
  { name: 'header and baggage disagree', code: 'conflicting_tag', extra: { baggage: 'use_case=digital-marketing' }, message: /use_case/ },
  { name: 'unknown business unit', code: 'unknown_bu', tags: { ...PROMO, bu: 'finance' }, message: /finance/ },
  { name: 'unknown use case', code: 'unknown_use_case', tags: { ...PROMO, use_case: 'churn-prediction' }, message: /churn-prediction/ },
  { name: 'use case of another BU', code: 'use_case_bu_mismatch', tags: { ...PROMO, use_case: 'demand-forecasting' }, message: /demand-forecasting belongs to supply-chain/ },
  { name: 'agent tags a BU it does not belong to', code: 'agent_bu_mismatch', tags: { ...PROMO, bu: 'supply-chain', use_case: 'demand-forecasting' }, message: /promo-planner belongs to marketing/ },
  { name: 'use case the agent may not work on', code: 'use_case_not_allowed', tags: { ...PROMO, use_case: 'digital-marketing' }, message: /digital-marketing/ },
  { name: 'agent id tag names another agent', code: 'agent_id_mismatch', tags: { ...PROMO, agent_id: 'campaign-writer' }, message: /campaign-writer.*promo-planner/ },
  { name: 'model the agent may not use', code: 'model_not_allowed', model: { openai: 'gpt-4.1', anthropic: 'claude-opus-4-1' }, message: /not allowed to use model/ },
  { name: 'unknown model', code: 'unknown_model', model: { openai: 'gpt-9-ultra', anthropic: 'claude-nine' }, message: /unknown model/ },
  { name: 'model of the other provider', code: 'model_provider_mismatch', model: { openai: 'claude-haiku-4-5', anthropic: 'gpt-4.1-mini' }, message: /is served by/ },
  { name: 'no model', code: 'missing_model', model: { openai: null, anthropic: null } },
  { name: 'no credential', code: 'missing_credential', key: () => null },
  { name: 'garbage credential', code: 'invalid_credential', key: () => 'definitely-not-a-key' },
  { name: 'well-formed but unknown agent key', code: 'invalid_credential', key: () => generateAgentKey().key },
  { name: 'revoked agent key', code: 'revoked_credential', key: () => revokedKey },
];

describe.each(ROUTES)('rejections through the %s SDK', (route) => {
  it.each(CASES)('$name → $code', async (c) => {
    const model = c.model?.[route] === null ? undefined : (c.model?.[route] ?? ALLOWED_MODEL[route]);
    const key = c.key ? c.key() : promoKey;
    const r = await expectRejection(c.code, () => callRoute(route, key, c.tags ?? PROMO, model, c.extra, ERRORS[c.code].status));
    if (c.message) expect(r.message).toMatch(c.message);
  });

  it('answers an unsupported endpoint with 404 unsupported_endpoint', async () => {
    await expectRejection('unsupported_endpoint', async () => {
      if (route === 'openai') {
        const client = openaiClient(promoKey, PROMO);
        return fromOpenAI(await rejected(client.images.generate({ model: 'gpt-image-1', prompt: 'a toll booth' })), 404);
      }
      const client = anthropicClient(promoKey, PROMO);
      const batch = { requests: [{ custom_id: 'one', params: messageBody(ALLOWED_MODEL.anthropic) }] };
      return fromAnthropic(await rejected(client.messages.batches.create(batch)), 404);
    });
  });

  it('answers GET with 405 method_not_allowed', async () => {
    await expectRejection('method_not_allowed', async () => {
      if (route === 'openai') return fromOpenAI(await rejected(openaiClient(promoKey, PROMO).models.list()), 405);
      return fromAnthropic(await rejected(anthropicClient(promoKey, PROMO).models.list()), 405);
    });
  });
});

// --- tags in baggage ------------------------------------------------------------------------------

describe('tags in W3C baggage', () => {
  const baggage = `bu=marketing,use_case=trade-promo-automation;ttl=60,agent_id=promo-planner,session_id=sess%3Afrom%3Abaggage,vendor=x`;

  it.each(ROUTES)('accepts baggage-only tags through the %s SDK and meters them', async (route) => {
    const upstreamBefore = gw.upstream.requests.length;
    let requestId: string | null;
    if (route === 'openai') {
      const { response } = await openaiClient(promoKey, {}, { baggage }).chat.completions.create(chatBody(ALLOWED_MODEL.openai)).withResponse();
      requestId = response.headers.get('x-tollgate-request-id');
    } else {
      const { response } = await anthropicClient(promoKey, {}, { baggage }).messages.create(messageBody(ALLOWED_MODEL.anthropic)).withResponse();
      requestId = response.headers.get('x-tollgate-request-id');
    }
    expect(gw.upstream.requests.length).toBe(upstreamBefore + 1);
    expect(gw.upstream.requests.at(-1)!.headers.baggage).toBeUndefined();
    await gw.flush();
    const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ bu_id: 'marketing', use_case_id: 'trade-promo-automation', agent_id: 'promo-planner', session_id: 'sess:from:baggage', status: 200 });
  });

  it('accepts a tag given in both places with the same value', async () => {
    const client = openaiClient(promoKey, PROMO, { baggage: `bu=${PROMO.bu},session_id=${PROMO.session_id}` });
    const { response } = await client.chat.completions.create(chatBody(ALLOWED_MODEL.openai)).withResponse();
    expect(response.status).toBe(200);
  });
});

// --- bodies the SDKs never send (plain fetch) -----------------------------------------------------

const PATHS: Record<Route, string> = { openai: '/openai/v1/chat/completions', anthropic: '/anthropic/v1/messages' };

async function post(route: Route, contentType: string, body: string): Promise<Rejection> {
  const res = await fetch(gw.url + PATHS[route], {
    method: 'POST',
    headers: { authorization: `Bearer ${promoKey}`, 'content-type': contentType, 'anthropic-version': '2023-06-01', ...tagHeaders(PROMO) },
    body,
  });
  const json = (await res.json()) as { type?: string; error: { type: string; code: string; message: string } };
  if (route === 'anthropic') expect(json.type).toBe('error');
  expect(json.error.type).toBe('invalid_request_error');
  return { status: res.status, code: json.error.code, headers: res.headers, message: json.error.message };
}

/** Rejected before the policy: by tollgate's own body check, or by Fastify's body parser. */
const BAD_BODIES: { name: string; contentType: string; body: string; parser: boolean }[] = [
  { name: 'a text/plain body', contentType: 'text/plain', body: 'hello', parser: false },
  { name: 'a JSON array', contentType: 'application/json', body: '[{"model":"gpt-4.1-mini"}]', parser: false },
  { name: 'invalid JSON', contentType: 'application/json', body: '{"model": "gpt-4.1-mini",', parser: true },
  { name: 'a form body', contentType: 'application/x-www-form-urlencoded', body: 'model=gpt-4.1-mini', parser: true },
];

describe.each(ROUTES)('bodies tollgate cannot read, on the %s route', (route) => {
  it.each(BAD_BODIES.filter((b) => !b.parser))('rejects $name with 400 invalid_request and logs it', async (b) => {
    await expectRejection('invalid_request', () => post(route, b.contentType, b.body));
  });

  it.each(BAD_BODIES.filter((b) => b.parser))('rejects $name with 400 invalid_request, never forwarding or metering it', async (b) => {
    await gw.flush();
    const upstreamBefore = gw.upstream.requests.length;
    const usageBefore = await count('usage_events');
    const r = await post(route, b.contentType, b.body);
    expect(r).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(r.headers.get('x-tollgate-error-code')).toBe('invalid_request');
    expect(gw.upstream.requests.length).toBe(upstreamBefore);
    await gw.flush();
    expect(await count('usage_events')).toBe(usageBefore);
  });

  // Known bug (reported, src/gateway/plugin.ts): a body Fastify's parser refuses goes through the scope's
  // error handler, which answers without a request id and writes no decision_log row. Drop `.fails` once fixed.
  it.each(BAD_BODIES.filter((b) => b.parser))('logs $name to decision_log under its request id', async (b) => {
    await expectRejection('invalid_request', () => post(route, b.contentType, b.body));
  });
});
