import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, Type, type GenerateContentResponse } from '@google/genai';
import { setBudget, startGateway, tagHeaders, UPSTREAM_GEMINI_KEY, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { ledgerRowOf, tokensOf, usageTotal } from '../helpers/ledger.js';
import { walkToHardCap } from '../helpers/budget-walk.js';

/** A use case of the same agent, for the budget walk, so the other calls' spend does not count against it. */
const WALKER: Tags = { bu: 'marketing', use_case: 'experience-management', agent_id: 'campaign-writer', session_id: 'sess-gemini-walk' };

let gw: Gateway;
let writerKey: string;

beforeAll(async () => {
  gw = await startGateway();
  writerKey = await gw.key('campaign-writer');
  await gw.allow('campaign-writer', ['gemini/gemini-2.5-flash', 'gemini/gemini-2.5-flash-lite']);
});
afterAll(async () => gw?.close());

const requestIdOf = (answer: GenerateContentResponse) => answer.sdkHttpResponse?.headers?.['x-tollgate-request-id'];

const ledgerRow = (requestId: string | null | undefined) => ledgerRowOf(gw, requestId);

/** The call's ledger row holds what the fake billed, priced at the Gemini API's price. */
async function expectMetered(requestId: string | undefined, model: string) {
  const billed = gw.upstream.usageLog.at(-1)!;
  expect(billed).toMatchObject({ provider: 'gemini', status: 200, complete: true, model });
  const row = await ledgerRow(requestId);
  expect(tokensOf(row)).toEqual(billed.usage);
  expect(row).toMatchObject({ provider: 'gemini', model_requested: model, model_served: `gemini/${model}`, status: 200, partial: false });
  expect(normalizeDecimal(row.cost as string)).toBe(expectedCost(billed.usage, `gemini/${model}`));
  return row;
}

describe('@google/genai through tollgate /gemini', () => {
  it('meters generateContent with cached and thinking tokens, the gateway key upstream and no agent credential', async () => {
    const answer = await gw.gemini(writerKey, WRITER).models.generateContent({
      model: 'gemini-2.5-flash', contents: '[think] [cache] a tagline for the spring campaign, please', config: { maxOutputTokens: 40 },
    });
    expect(answer.text).toBeTruthy();
    const meta = answer.usageMetadata!;
    expect(meta.cachedContentTokenCount).toBeGreaterThan(0);
    expect(meta.thoughtsTokenCount).toBeGreaterThan(0);
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(UPSTREAM_GEMINI_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-tollgate-'))).toEqual([]);
    // Google's front-end markers stay in the gateway.
    expect(answer.sdkHttpResponse?.headers?.server).toBeUndefined();
    expect(answer.sdkHttpResponse?.headers?.['server-timing']).toBeUndefined();
    const row = await expectMetered(requestIdOf(answer), 'gemini-2.5-flash');
    // Cached tokens apart from the input; thinking billed as output.
    expect(Number(row.cached_input_tokens)).toBe(meta.cachedContentTokenCount);
    expect(Number(row.input_tokens)).toBe(meta.promptTokenCount! - meta.cachedContentTokenCount!);
    expect(Number(row.output_tokens)).toBe(meta.candidatesTokenCount! + meta.thoughtsTokenCount!);
  });

  it('streams generateContentStream (SSE), metering the last running usage', async () => {
    const stream = await gw.gemini(writerKey, WRITER).models.generateContentStream({ model: 'gemini-2.5-flash-lite', contents: 'three words about tea' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(gw.upstream.requests.at(-1)!.url).toBe('/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse');
    await expectMetered(requestIdOf(chunks[0]!), 'gemini-2.5-flash-lite');
  });

  it('meters a stream cut midway at the running usage it had reported, as partial', async () => {
    gw.upstream.script({ fault: 'cut', afterEvents: 5 });
    const stream = await gw.gemini(writerKey, WRITER).models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'a long answer, please' });
    const chunks: GenerateContentResponse[] = [];
    const failed = await (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })().then(() => false, () => true);
    expect(failed).toBe(true);
    const cut = gw.upstream.usageLog.at(-1)!;
    expect(cut).toMatchObject({ outcome: 'cut', complete: false });
    const row = await ledgerRow(requestIdOf(chunks[0]!));
    expect(row.partial).toBe(true);
    expect(tokensOf(row)).toEqual(cut.usage);
    expect(Number(row.output_tokens)).toBe(5);
  });

  it('meters a function call and keeps the names of the tools', async () => {
    const answer = await gw.gemini(writerKey, WRITER).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'what is the weather in Lyon?',
      config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: Type.OBJECT, properties: { query: { type: Type.STRING } } } }] }] },
    });
    expect(answer.functionCalls?.[0]?.name).toBe('get_weather');
    const row = await expectMetered(requestIdOf(answer), 'gemini-2.5-flash');
    expect(row.tools).toEqual(['get_weather']);
  });

  it('bills candidateCount answers, and countTokens for nothing', async () => {
    const answer = await gw.gemini(writerKey, WRITER).models.generateContent({
      model: 'gemini-2.5-flash', contents: 'two slogans', config: { candidateCount: 2, maxOutputTokens: 5 },
    });
    expect(answer.candidates).toHaveLength(2);
    const row = await expectMetered(requestIdOf(answer), 'gemini-2.5-flash');
    expect(Number(row.output_tokens)).toBe(10);
    const counted = await gw.gemini(writerKey, WRITER).models.countTokens({ model: 'gemini-2.5-flash', contents: 'count these words for me' });
    expect(counted.totalTokens).toBe(gw.upstream.usageLog.at(-1)!.counted);
    const free = await ledgerRow(counted.sdkHttpResponse?.headers?.['x-tollgate-request-id']);
    expect(tokensOf(free)).toEqual({ input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
    expect(normalizeDecimal(free.cost as string)).toBe('0');
  });
});

describe("refusals in Google's error shape, nothing forwarded", () => {
  async function refused(call: Promise<unknown>, status: number, rpcStatus: string, code: string) {
    const before = gw.upstream.requests.length;
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(status);
    const body = JSON.parse((err as ApiError).message) as { error: { code: number; status: string; message: string; details: { reason: string }[] } };
    expect(body.error).toMatchObject({ code: status, status: rpcStatus, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: code, domain: 'tollgate' }] });
    expect(gw.upstream.requests.length).toBe(before);
    await gw.flush();
    const logged = await gw.app.tollgate.db('decision_log').where({ provider: 'gemini', allowed: false }).orderBy('ts', 'desc').first();
    expect(logged).toMatchObject({ code, http_status: status });
    return body.error;
  }

  it('refuses a bad credential', async () => {
    await refused(gw.gemini('tg_not_a_real_key_0000000000000000', WRITER).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }), 401, 'UNAUTHENTICATED', 'invalid_credential');
  });

  it('refuses an unknown model', async () => {
    const error = await refused(gw.gemini(writerKey, WRITER).models.generateContent({ model: 'gemini-0-nonexistent', contents: 'hi' }), 400, 'INVALID_ARGUMENT', 'unknown_model');
    expect(error.message).toContain('gemini-0-nonexistent');
  });

  it('refuses a stream that is not SSE, and never forwards a key given in the query', async () => {
    const headers = { 'x-goog-api-key': writerKey, 'content-type': 'application/json', ...tagHeaders(WRITER) };
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
    const before = gw.upstream.requests.length;
    const json = await fetch(`${gw.url}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent`, { method: 'POST', headers, body });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: { status: 'INVALID_ARGUMENT', message: expect.stringContaining('alt=sse') } });
    expect(gw.upstream.requests.length).toBe(before);
    const sse = await fetch(`${gw.url}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${writerKey}`, { method: 'POST', headers, body });
    expect(sse.status).toBe(200);
    await sse.text();
    expect(gw.upstream.requests.at(-1)!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('refuses a method tollgate does not forward', async () => {
    const raw = await fetch(`${gw.url}/gemini/v1beta/models/gemini-2.5-flash:embedContent`, {
      method: 'POST', headers: { 'x-goog-api-key': writerKey, 'content-type': 'application/json', ...tagHeaders(WRITER) }, body: '{}',
    });
    expect(raw.status).toBe(404);
    expect(await raw.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND', details: [{ reason: 'unsupported_endpoint' }] } });
  });
});

describe('budget tiers on Gemini', () => {
  it('walks a use case to the soft cap (serving the cheaper Gemini model) and the hard cap (refused)', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: WALKER.use_case, limit: '0.0008', unit: 'usd', period: 'month' });
    const client = gw.gemini(writerKey, WALKER);
    const { refusal } = await walkToHardCap(gw, {
      provider: 'gemini', useCase: WALKER.use_case, refusedStatus: 429, maxCalls: 60,
      requested: 'gemini/gemini-2.5-flash', cheaper: 'gemini/gemini-2.5-flash-lite', cheaperUrl: '/v1beta/models/gemini-2.5-flash-lite:generateContent',
      call: () => client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'one more line for the campaign brief', config: { maxOutputTokens: 20 } }),
      isRefusal: (e): e is ApiError => e instanceof ApiError,
      headersOf: (answer) => answer.sdkHttpResponse!.headers!,
      maxOutputSent: (body) => (body as { generationConfig: { maxOutputTokens: number } }).generationConfig.maxOutputTokens,
    });
    expect(refusal.status).toBe(429);
    // Details that tell Google's clients not to retry: a QuotaFailure and a RetryInfo past their retry horizon.
    expect(JSON.parse(refusal.message)).toMatchObject({
      error: {
        code: 429, status: 'RESOURCE_EXHAUSTED',
        details: [{ reason: 'budget_exhausted' }, { '@type': 'type.googleapis.com/google.rpc.QuotaFailure' }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3600s' }],
      },
    });
  });
});

describe('the ledger and the fake', () => {
  it('agree on every Gemini call the fake served, per token kind', async () => {
    await gw.flush();
    const served = gw.upstream.usageLog.filter((r) => r.provider === 'gemini' && r.status === 200);
    const rows = await gw.app.tollgate.db('usage_events').where({ provider: 'gemini', status: 200 });
    expect(rows.length).toBe(served.length);
    expect(usageTotal(rows.map(tokensOf))).toEqual(usageTotal(served.map((r) => r.usage)));
  });
});
