import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { APIError } from '@anthropic-ai/sdk';
import {
  setBudget, startGateway, tagHeaders, FORECASTER, PROMO, VERTEX_LOCATION, VERTEX_PROJECT, WRITER,
  type Gateway, type Tags,
} from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { writeBatch } from '../../src/db/ledger.js';
import { usageEvent } from '../integration/fixtures/events.js';
import { ledgerRowOf, tokensOf, usageTotal } from '../helpers/ledger.js';
import { walkToHardCap } from '../helpers/budget-walk.js';

/**
 * Vertex AI through tollgate /vertex, with @google/genai in Vertex mode (publishers/google) and
 * @anthropic-ai/vertex-sdk (publishers/anthropic): tollgate's project, location and OAuth token upstream, the
 * agent's tollgate key given to each SDK as its access token, the ledger equal to what the fake billed.
 */

const WALKER: Tags = { bu: 'marketing', use_case: 'experience-management', agent_id: 'campaign-writer', session_id: 'sess-vertex-walk' };
const ACCOUNT = `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_LOCATION}`;
/** @google/genai calls v1beta1 by default (its express-mode client below is set to v1); the upstream gets the version called. */
const BETA_ACCOUNT = `/v1beta1/projects/${VERTEX_PROJECT}/locations/${VERTEX_LOCATION}`;

let gw: Gateway;
let writerKey: string;
let promoKey: string;

beforeAll(async () => {
  gw = await startGateway();
  writerKey = await gw.key(WRITER.agent_id);
  promoKey = await gw.key(PROMO.agent_id);
  await gw.allow(WRITER.agent_id, ['vertex/gemini-2.5-flash', 'vertex/gemini-2.5-flash-lite', 'vertex/claude-sonnet-4-5', 'vertex/claude-haiku-4-5']);
});
afterAll(async () => gw?.close());

const ledgerRow = (requestId: string | null | undefined) => ledgerRowOf(gw, requestId);

/** The call's ledger row holds what the fake billed, per token kind, priced at Vertex's price for the catalog model. */
async function expectMetered(requestId: string | null | undefined, sent: string, model: string) {
  const billed = gw.upstream.usageLog.at(-1)!;
  expect(billed).toMatchObject({ provider: 'vertex', status: 200, complete: true });
  const row = await ledgerRow(requestId);
  expect(tokensOf(row)).toEqual(billed.usage);
  expect(row).toMatchObject({ provider: 'vertex', model_requested: sent, model_served: model, status: 200, partial: false });
  expect(normalizeDecimal(row.cost as string)).toBe(expectedCost(billed.usage, model));
  return row;
}

/** tollgate's token and nothing of the agent's went upstream; nothing of Google's came back. */
function expectCredentialsKept(agentKey: string, answerHeaders: Record<string, string>) {
  const sent = gw.upstream.requests.at(-1)!;
  expect(sent.headers.authorization).toBe(`Bearer ${gw.upstream.vertexTokens.minted.at(-1)}`);
  expect(sent.headers['x-goog-api-key']).toBeUndefined();
  expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-tollgate-') || h === 'baggage')).toEqual([]);
  expect(JSON.stringify(sent.headers)).not.toContain(agentKey);
  expect(JSON.stringify(answerHeaders)).not.toContain('ya29.');
  expect(answerHeaders.server).toBeUndefined();
}

const genaiRequestId = (answer: GenerateContentResponse) => answer.sdkHttpResponse?.headers?.['x-tollgate-request-id'];

describe('@google/genai in Vertex AI mode through tollgate /vertex', () => {
  it('meters generateContent with cached and thinking tokens, on tollgate\'s project, location and token', async () => {
    const answer = await gw.vertexGenai(writerKey, WRITER).models.generateContent({
      model: 'gemini-2.5-flash', contents: '[think] [cache] a tagline for the spring campaign, please', config: { maxOutputTokens: 40 },
    });
    expect(answer.text).toBeTruthy();
    const meta = answer.usageMetadata!;
    expect(meta.cachedContentTokenCount).toBeGreaterThan(0);
    expect(meta.thoughtsTokenCount).toBeGreaterThan(0);
    expect(gw.upstream.requests.at(-1)!.url).toBe(`${BETA_ACCOUNT}/publishers/google/models/gemini-2.5-flash:generateContent`);
    expectCredentialsKept(writerKey, answer.sdkHttpResponse!.headers!);
    const row = await expectMetered(genaiRequestId(answer), 'gemini-2.5-flash', 'vertex/gemini-2.5-flash');
    expect(Number(row.cached_input_tokens)).toBe(meta.cachedContentTokenCount);
    expect(Number(row.output_tokens)).toBe(meta.candidatesTokenCount! + meta.thoughtsTokenCount!);
  });

  it('streams generateContentStream (SSE), metering the last running usage', async () => {
    const stream = await gw.vertexGenai(writerKey, WRITER).models.generateContentStream({ model: 'gemini-2.5-flash-lite', contents: 'three words about tea' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(gw.upstream.requests.at(-1)!.url).toBe(`${BETA_ACCOUNT}/publishers/google/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse`);
    await expectMetered(genaiRequestId(chunks[0]!), 'gemini-2.5-flash-lite', 'vertex/gemini-2.5-flash-lite');
  });

  it('takes the agent key as an express-mode API key, and still calls on tollgate\'s project with tollgate\'s token', async () => {
    const express = new GoogleGenAI({ vertexai: true, apiKey: writerKey, httpOptions: { baseUrl: `${gw.url}/vertex`, apiVersion: 'v1', headers: tagHeaders(WRITER) } });
    const answer = await express.models.generateContent({ model: 'gemini-2.5-flash', contents: 'a slogan, please' });
    expect(answer.text).toBeTruthy();
    expect(gw.upstream.requests.at(-1)!.url).toBe(`${ACCOUNT}/publishers/google/models/gemini-2.5-flash:generateContent`);
    expectCredentialsKept(writerKey, answer.sdkHttpResponse!.headers!);
    await expectMetered(genaiRequestId(answer), 'gemini-2.5-flash', 'vertex/gemini-2.5-flash');
  });

  it('counts tokens for nothing', async () => {
    const counted = await gw.vertexGenai(writerKey, WRITER).models.countTokens({ model: 'gemini-2.5-flash', contents: 'count these words for me' });
    expect(counted.totalTokens).toBe(gw.upstream.usageLog.at(-1)!.counted);
    const free = await ledgerRow(counted.sdkHttpResponse?.headers?.['x-tollgate-request-id']);
    expect(tokensOf(free)).toEqual({ input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
  });
});

describe('@anthropic-ai/vertex-sdk through tollgate /vertex', () => {
  it('meters messages.create (rawPredict) with cache reads and writes, for an agent allowed the canonical model', async () => {
    const { data, response } = await gw.vertexAnthropic(promoKey, PROMO).messages.create({
      model: 'claude-sonnet-4-5@20250929', max_tokens: 64, messages: [{ role: 'user', content: '[cache] [cache-write] plan the spring promotion for the north region' }],
    }).withResponse();
    expect(data.type).toBe('message');
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.url).toBe(`${ACCOUNT}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict`);
    // The SDK moves its anthropic-version header into the body; Vertex takes the version there, the model from the path.
    expect(sent.body).toMatchObject({ anthropic_version: expect.stringMatching(/^(vertex-)?\d{4}-\d{2}-\d{2}$/) });
    expect(sent.headers['anthropic-version']).toBeUndefined();
    expect(sent.body).not.toHaveProperty('model');
    expectCredentialsKept(promoKey, Object.fromEntries(response.headers));
    const row = await expectMetered(response.headers.get('x-tollgate-request-id'), 'claude-sonnet-4-5@20250929', 'vertex/claude-sonnet-4-5');
    expect(Number(row.cached_input_tokens)).toBe(data.usage.cache_read_input_tokens);
    expect(Number(row.cache_write_tokens)).toBe(data.usage.cache_creation_input_tokens);
    expect(Number(row.cache_write_tokens)).toBeGreaterThan(0);
  });

  it('streams messages.stream (streamRawPredict), metering message_start and message_delta', async () => {
    const stream = gw.vertexAnthropic(promoKey, PROMO).messages.stream({
      model: 'claude-sonnet-4-5@20250929', max_tokens: 32, messages: [{ role: 'user', content: 'three words about the promotion' }],
    });
    const final = await stream.finalMessage();
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(gw.upstream.requests.at(-1)!.url).toBe(`${ACCOUNT}/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict`);
    const { response } = await stream.withResponse();
    await expectMetered(response.headers.get('x-tollgate-request-id'), 'claude-sonnet-4-5@20250929', 'vertex/claude-sonnet-4-5');
  });

  it('counts tokens for nothing, the model in the body as the SDK sends it', async () => {
    const { data, response } = await gw.vertexAnthropic(promoKey, PROMO).messages.countTokens({
      model: 'claude-sonnet-4-5@20250929', messages: [{ role: 'user', content: 'count these words for me' }],
    }).withResponse();
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.url).toBe(`${ACCOUNT}/publishers/anthropic/models/count-tokens:rawPredict`);
    expect(sent.body).toMatchObject({ model: 'claude-sonnet-4-5@20250929' });
    expect(data.input_tokens).toBe(gw.upstream.usageLog.at(-1)!.counted);
    const free = await ledgerRow(response.headers.get('x-tollgate-request-id'));
    expect(free).toMatchObject({ provider: 'vertex', model_served: 'vertex/claude-sonnet-4-5' });
    expect(tokensOf(free)).toEqual({ input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
  });

  it('minted tollgate\'s token once and reused it for every call', () => {
    const vertexCalls = gw.upstream.requests.filter((r) => /^\/v1(beta1)?\/projects\//.test(r.path));
    expect(vertexCalls.length).toBeGreaterThanOrEqual(5);
    expect(gw.upstream.vertexTokens.minted).toHaveLength(1);
    for (const call of vertexCalls) expect(call.headers.authorization).toBe(`Bearer ${gw.upstream.vertexTokens.minted[0]}`);
  });

  it('keeps extended thinking valid when a budget clamps max_tokens', async () => {
    const useCase = 'vertex-thinking';
    const db = gw.app.tollgate.db;
    await db('use_cases').insert({ id: useCase, bu_id: FORECASTER.bu, name: useCase, class: 'demand-planning', owner_name: 'Test owner', owner_email: 'owner@example.com' });
    await db('agent_use_cases').insert({ agent_id: FORECASTER.agent_id, use_case_id: useCase });
    await gw.app.tollgate.catalog.refresh();
    // Applied on the replica now; the spend below is read from the counters when the first call takes its lease.
    await setBudget(gw, { scope: 'use_case', scopeId: useCase, limit: '10000', unit: 'tokens', period: 'month' });
    await writeBatch(db, [usageEvent(1, {
      request_id: 'prime-vertex-thinking', ts: new Date().toISOString(), bu_id: FORECASTER.bu, use_case_id: useCase, agent_id: FORECASTER.agent_id,
      input_tokens: 9000, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0, cost: '0',
    }, 'thinking')]);
    const key = await gw.key(FORECASTER.agent_id);
    const { data, response } = await gw.vertexAnthropic(key, { ...FORECASTER, use_case: useCase }).messages.create({
      model: 'claude-haiku-4-5@20251001', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [{ role: 'user', content: 'forecast next week' }],
    }).withResponse();
    expect(data.type).toBe('message');
    const clamp = Number(response.headers.get('x-tollgate-output-clamped'));
    expect(clamp).toBeGreaterThan(1025);
    expect(clamp).toBeLessThan(2048);
    const sent = gw.upstream.requests.at(-1)!.body as { max_tokens: number; thinking: { budget_tokens: number } };
    expect(sent.max_tokens).toBe(clamp);
    expect(sent.thinking.budget_tokens).toBe(clamp - 1);
    expect(gw.upstream.usageLog.at(-1)!.status).toBe(200);
  });
});

describe("refusals in Google's error shape, nothing forwarded", () => {
  async function lastDenial(code: string, status: number) {
    await gw.flush();
    const logged = await gw.app.tollgate.db('decision_log').where({ provider: 'vertex', allowed: false }).orderBy('ts', 'desc').first();
    expect(logged).toMatchObject({ code, http_status: status });
  }

  it('refuses an unknown Gemini model', async () => {
    const before = gw.upstream.requests.length;
    const err = await gw.vertexGenai(writerKey, WRITER).models.generateContent({ model: 'gemini-0-nonexistent', contents: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    const body = JSON.parse((err as ApiError).message) as { error: { status: string; message: string; details: { reason: string }[] } };
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'unknown_model', domain: 'tollgate' }] });
    expect(body.error.message).toContain('gemini-0-nonexistent');
    expect(gw.upstream.requests.length).toBe(before);
    await lastDenial('unknown_model', 400);
  });

  it('refuses an unknown Claude model, as @anthropic-ai/vertex-sdk reads it', async () => {
    const before = gw.upstream.requests.length;
    const err = await gw.vertexAnthropic(promoKey, PROMO).messages.create({ model: 'claude-nonexistent@20990101', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(400);
    expect((err as APIError).error).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'unknown_model' }] } });
    expect(gw.upstream.requests.length).toBe(before);
    await lastDenial('unknown_model', 400);
  });

  it('refuses a method tollgate does not forward', async () => {
    const res = await fetch(`${gw.url}/vertex/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:predict`, {
      method: 'POST', headers: { authorization: `Bearer ${writerKey}`, 'content-type': 'application/json' }, body: '{}',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND', details: [{ reason: 'unsupported_endpoint' }] } });
  });
});

describe('budget tiers on Vertex AI', () => {
  it('walks a use case to the soft cap (serving the cheaper Vertex Claude) and the hard cap (refused, and the SDK does not retry)', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: WALKER.use_case, limit: '0.01', unit: 'usd', period: 'month' });
    // Retries on: the walk finds one refusal in the decision log, so the SDK made none.
    const client = gw.vertexAnthropic(writerKey, WALKER, { maxRetries: 2 });
    const { refusal } = await walkToHardCap(gw, {
      provider: 'vertex', useCase: WALKER.use_case, refusedStatus: 429, maxCalls: 80,
      requested: 'vertex/claude-sonnet-4-5', cheaper: 'vertex/claude-haiku-4-5', cheaperUrl: `${ACCOUNT}/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict`,
      call: () => client.messages
        .create({ model: 'claude-sonnet-4-5@20250929', max_tokens: 20, messages: [{ role: 'user', content: 'one more line for the customer survey' }] })
        .withResponse(),
      isRefusal: (e): e is APIError => e instanceof APIError,
      headersOf: (answer) => Object.fromEntries(answer.response.headers),
      maxOutputSent: (body) => (body as { max_tokens: number }).max_tokens,
    });
    expect(refusal.status).toBe(429);
    expect(refusal.error).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: expect.arrayContaining([expect.objectContaining({ reason: 'budget_exhausted' })]) } });
    expect(refusal.headers?.get('x-should-retry')).toBe('false');
  });
});

describe('budget tiers on Vertex AI, Gemini', () => {
  it('serves the cheaper Vertex Gemini at the soft cap, on tollgate\'s project, and refuses at the hard cap', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: WRITER.use_case, limit: '0.002', unit: 'usd', period: 'month' });
    const client = gw.vertexGenai(writerKey, WRITER);
    const { refusal } = await walkToHardCap(gw, {
      provider: 'vertex', useCase: WRITER.use_case, refusedStatus: 429, maxCalls: 80,
      requested: 'vertex/gemini-2.5-flash', cheaper: 'vertex/gemini-2.5-flash-lite', cheaperUrl: `${BETA_ACCOUNT}/publishers/google/models/gemini-2.5-flash-lite:generateContent`,
      call: () => client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'one more line for the campaign brief', config: { maxOutputTokens: 20 } }),
      isRefusal: (e): e is ApiError => e instanceof ApiError,
      headersOf: (answer) => answer.sdkHttpResponse!.headers!,
      maxOutputSent: (body) => (body as { generationConfig: { maxOutputTokens: number } }).generationConfig.maxOutputTokens,
    });
    expect(refusal.status).toBe(429);
    expect(JSON.parse(refusal.message)).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
  });
});

describe('the ledger and the fake', () => {
  it('agree on every Vertex call the fake served, per token kind', async () => {
    await gw.flush();
    const served = gw.upstream.usageLog.filter((r) => r.provider === 'vertex' && r.status === 200);
    const rows = await gw.app.tollgate.db('usage_events').where({ provider: 'vertex', status: 200 });
    expect(rows.length).toBe(served.length);
    expect(usageTotal(rows.map(tokensOf))).toEqual(usageTotal(served.map((r) => r.usage)));
  });
});

describe('tollgate\'s token', () => {
  it('is refreshed before it expires, once, and the calls after use the new one', async () => {
    const short = await startGateway();
    try {
      // google-auth-library refreshes a token 5 minutes before it expires: one that lives 5 minutes and 1 second is due a second later.
      short.upstream.vertexTokens.lifetimeS = 301;
      const key = await short.key(WRITER.agent_id);
      await short.allow(WRITER.agent_id, ['vertex/gemini-2.5-flash']);
      const call = () => short.vertexGenai(key, WRITER).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
      await Promise.all([call(), call()]);
      expect(short.upstream.vertexTokens.minted).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await Promise.all([call(), call()]);
      const { minted } = short.upstream.vertexTokens;
      expect(minted).toHaveLength(2);
      expect(short.upstream.requests.map((r) => r.headers.authorization)).toEqual([minted[0], minted[0], minted[1], minted[1]].map((t) => `Bearer ${t}`));
    } finally {
      await short.close();
    }
  });
});

describe('a token endpoint that fails', () => {
  it('refuses the call with upstream_auth_failed (502) in Google\'s shape, nothing forwarded, in the decision log', async () => {
    const down = await startGateway();
    try {
      down.upstream.vertexTokens.down = true;
      const key = await down.key(WRITER.agent_id);
      await down.allow(WRITER.agent_id, ['vertex/gemini-2.5-flash']);
      const err = await down.vertexGenai(key, WRITER).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(502);
      expect(JSON.parse((err as ApiError).message)).toMatchObject({ error: { code: 502, status: 'UNAVAILABLE', details: [{ reason: 'upstream_auth_failed' }] } });
      expect(down.upstream.requests.filter((r) => /^\/v1(beta1)?\/projects\//.test(r.path))).toEqual([]);
      expect(down.upstream.vertexTokens.minted).toEqual([]);
      await down.flush();
      const logged = await down.app.tollgate.db('decision_log').where({ provider: 'vertex', allowed: false });
      expect(logged).toMatchObject([{ code: 'upstream_auth_failed', http_status: 502 }]);

      // The next calls, within the cool-down, are refused at once with a Retry-After, the endpoint not asked again.
      const grants = down.upstream.vertexTokens.grants;
      expect(grants).toBeGreaterThan(0);
      const started = Date.now();
      const raw = await fetch(`${down.url}/vertex/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...tagHeaders(WRITER) },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
      });
      expect(raw.status).toBe(502);
      expect(raw.headers.get('x-tollgate-error-code')).toBe('upstream_auth_failed');
      expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(down.upstream.vertexTokens.grants).toBe(grants);

      // The endpoint back: once the cool-down is over, the next call asks again and is served.
      down.upstream.vertexTokens.down = false;
      const retryAfterS = Number(raw.headers.get('retry-after'));
      await new Promise((resolve) => setTimeout(resolve, retryAfterS * 1000 + 100));
      const served = await down.vertexGenai(key, WRITER).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
      expect(served.sdkHttpResponse!.headers!['x-tollgate-model-served']).toBe('vertex/gemini-2.5-flash');
      expect(down.upstream.vertexTokens.minted).toHaveLength(1);
    } finally {
      await down.close();
    }
  }, 60_000);
});

