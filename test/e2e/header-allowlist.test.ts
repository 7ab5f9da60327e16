import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { AzureOpenAI } from 'openai';
import { GoogleGenAI } from '@google/genai';
import {
  startGateway, tagHeaders, AZURE_API_VERSION, PROMO, UPSTREAM_ANTHROPIC_KEY, UPSTREAM_AZURE_KEY, UPSTREAM_GEMINI_KEY, UPSTREAM_OPENAI_KEY, type Gateway,
} from '../helpers/gateway.js';

/**
 * Issue 16 item 11: an agent's OpenAI-Organization, OpenAI-Project and anthropic-beta reached the provider beside
 * tollgate's key, and the provider's Set-Cookie reached the agent. Headers are allowlisted each way, per provider.
 */

let gw: Gateway;
let key: string;

beforeAll(async () => {
  gw = await startGateway({ TOLLGATE_OPENAI_ORGANIZATION: 'org-tollgate', TOLLGATE_OPENAI_PROJECT: 'proj_tollgate' });
  key = await gw.key('promo-planner');
  await gw.allow('promo-planner', ['gemini/gemini-2.5-flash']);
});
afterAll(async () => gw?.close());

/** What an agent might add to an SDK's own headers: another account, a cookie, a trace, anything. */
const AGENT_EXTRAS = {
  'OpenAI-Organization': 'org-agent-choice', 'OpenAI-Project': 'proj_agent_choice', cookie: 'session=agent', 'x-custom': 'yes',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'Idempotency-Key': 'idem-1', 'x-forwarded-for': '10.0.0.1',
};

/** Each provider's answer headers that name its account or come from its CDN. */
const NEVER_BACK = ['set-cookie', 'openai-organization', 'openai-project', 'anthropic-organization-id', 'server', 'cf-ray', 'via', 'strict-transport-security', 'x-robots-tag'];

function sentUpstream(res: Response) {
  const id = res.headers.get('x-request-id') ?? res.headers.get('request-id');
  const req = gw.upstream.requests.find((r) => r.id === id);
  expect(req, 'the upstream request that answered').toBeDefined();
  return req!.headers;
}

function expectNoneBack(res: Response) {
  for (const name of NEVER_BACK) expect(res.headers.get(name), name).toBeNull();
  expect(res.headers.getSetCookie()).toEqual([]);
}

describe('headers to the provider', () => {
  it('OpenAI: tollgate\'s key, organization and project, the SDK\'s own headers, nothing else the agent sent', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: { ...tagHeaders(PROMO), ...AGENT_EXTRAS } });
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const sent = sentUpstream(response);
    expect(sent).toMatchObject({
      authorization: `Bearer ${UPSTREAM_OPENAI_KEY}`, 'openai-organization': 'org-tollgate', 'openai-project': 'proj_tollgate',
      'content-type': 'application/json', accept: 'application/json', 'user-agent': expect.stringMatching(/^OpenAI\/JS /),
      'x-stainless-retry-count': '0', 'accept-encoding': 'identity',
    });
    const allowed = ['host', 'connection', 'content-type', 'content-length', 'accept', 'user-agent', 'x-stainless-retry-count', 'x-stainless-timeout', 'authorization', 'openai-organization', 'openai-project', 'accept-encoding'];
    expect(Object.keys(sent).filter((h) => !allowed.includes(h))).toEqual([]);
  });

  it('Anthropic: only the betas the operator allows, and says which were dropped', async () => {
    const betas = 'claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14, extended-cache-ttl-2025-04-11';
    const client = new Anthropic({ apiKey: key, baseURL: `${gw.url}/anthropic`, maxRetries: 0, defaultHeaders: { ...tagHeaders(PROMO), ...AGENT_EXTRAS, 'anthropic-beta': betas } });
    const { response } = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const sent = sentUpstream(response);
    expect(sent).toMatchObject({
      'x-api-key': UPSTREAM_ANTHROPIC_KEY, 'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
      'anthropic-version': expect.any(String), 'user-agent': expect.stringMatching(/^Anthropic\/JS /),
    });
    expect(response.headers.get('x-tollgate-dropped-anthropic-beta')).toBe('context-1m-2025-08-07,extended-cache-ttl-2025-04-11');
    const allowed = ['host', 'connection', 'content-type', 'content-length', 'accept', 'user-agent', 'anthropic-version', 'anthropic-beta', 'x-stainless-retry-count', 'x-stainless-timeout', 'x-api-key', 'accept-encoding'];
    expect(Object.keys(sent).filter((h) => !allowed.includes(h))).toEqual([]);
  });
});

describe('headers to the cloud vendors', () => {
  it("Azure: tollgate's key in api-key, never the agent's api-key or Authorization, nothing else the agent sent", async () => {
    const client = new AzureOpenAI({
      apiKey: key, endpoint: `${gw.url}/azure`, apiVersion: AZURE_API_VERSION, maxRetries: 0,
      defaultHeaders: { ...tagHeaders(PROMO), ...AGENT_EXTRAS, authorization: `Bearer ${key}` },
    });
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const sent = gw.upstream.requests.at(-1)!.headers;
    expect(sent).toMatchObject({ 'api-key': UPSTREAM_AZURE_KEY, 'user-agent': expect.stringMatching(/^AzureOpenAI\/JS /) });
    const allowed = ['host', 'connection', 'content-type', 'content-length', 'accept', 'user-agent', 'x-stainless-retry-count', 'x-stainless-timeout', 'api-key', 'accept-encoding'];
    expect(Object.keys(sent).filter((h) => !allowed.includes(h))).toEqual([]);
    // Azure's region and model session name tollgate's resource: they stay here.
    for (const name of [...NEVER_BACK, 'x-ms-region', 'azureml-model-session', 'x-ms-rai-invoked']) expect(response.headers.get(name), name).toBeNull();
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('249');
  });

  it("Gemini: tollgate's key in x-goog-api-key, never the agent's nor its billing project, nothing else the agent sent", async () => {
    const client = new GoogleGenAI({
      apiKey: key, httpOptions: { baseUrl: `${gw.url}/gemini`, headers: { ...tagHeaders(PROMO), ...AGENT_EXTRAS, 'x-goog-user-project': 'agent-project' } },
    });
    const answer = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    const sent = gw.upstream.requests.at(-1)!.headers;
    expect(sent).toMatchObject({ 'x-goog-api-key': UPSTREAM_GEMINI_KEY, 'x-goog-api-client': expect.stringMatching(/^google-genai-sdk\//) });
    const allowed = ['host', 'connection', 'content-type', 'content-length', 'accept', 'user-agent', 'x-goog-api-client', 'x-goog-api-key', 'accept-encoding'];
    expect(Object.keys(sent).filter((h) => !allowed.includes(h))).toEqual([]);
    const back = answer.sdkHttpResponse?.headers ?? {};
    for (const name of [...NEVER_BACK, 'server-timing', 'x-xss-protection']) expect(back[name], name).toBeUndefined();
    expect(back['content-type']).toMatch(/^application\/json/);
  });

  it("Vertex AI: tollgate's OAuth token in Authorization, never the agent's, its billing project or its betas, nothing else the agent sent", async () => {
    const extras = { ...AGENT_EXTRAS, 'x-goog-user-project': 'agent-project', 'anthropic-beta': 'context-1m-2025-08-07' };
    const { response } = await gw.vertexAnthropic(key, PROMO, { headers: extras }).messages.create({
      model: 'claude-sonnet-4-5@20250929', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }],
    }).withResponse();
    const sent = gw.upstream.requests.at(-1)!.headers;
    expect(sent.authorization).toBe(`Bearer ${gw.upstream.vertexTokens.minted[0]}`);
    const allowed = ['host', 'connection', 'content-type', 'content-length', 'accept', 'user-agent', 'authorization', 'accept-encoding', 'x-stainless-retry-count', 'x-stainless-timeout'];
    expect(Object.keys(sent).filter((h) => !allowed.includes(h))).toEqual([]);
    expect(response.headers.get('x-tollgate-dropped-anthropic-beta')).toBe('context-1m-2025-08-07');
    for (const name of [...NEVER_BACK, 'x-xss-protection', 'vary']) expect(response.headers.get(name), name).toBeNull();
  });
});

describe('headers back to the agent', () => {
  it('OpenAI JSON and SSE answers: request id, rate limits and retry hints, never cookies or the account', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(PROMO) });
    const json = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const sse = await client.chat.completions.create({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    for await (const _ of sse.data) { /* drain */ }
    for (const { response } of [json, sse]) {
      expectNoneBack(response);
      expect(response.headers.get('x-request-id')).toMatch(/^fake/);
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9999');
      expect(response.headers.get('openai-processing-ms')).toBe('42');
      expect(response.headers.get('x-tollgate-request-id')).toBeTruthy();
    }
    expect(sse.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  });

  it('Anthropic answers: request id and rate limits, never cookies or the organization', async () => {
    const client = new Anthropic({ apiKey: key, baseURL: `${gw.url}/anthropic`, maxRetries: 0, defaultHeaders: tagHeaders(PROMO) });
    const { response } = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expectNoneBack(response);
    expect(response.headers.get('request-id')).toMatch(/^fake/);
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('3999');
  });

  it('passes a provider error\'s retry hints back', async () => {
    gw.upstream.script({ fault: 'error', status: 429, path: '/v1/chat/completions', headers: { 'retry-after': '7', 'x-should-retry': 'true', 'set-cookie': 'x=1' } });
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(PROMO) });
    const err = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] })
      .then(() => expect.fail('expected a 429'), (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err.status).toBe(429);
    expect(err.headers?.get('retry-after')).toBe('7');
    expect(err.headers?.get('x-should-retry')).toBe('true');
    expect(err.headers?.get('set-cookie')).toBeNull();
  });
});
