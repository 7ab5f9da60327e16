import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { APIError, AzureOpenAI } from 'openai';
import { setBudget, startGateway, tagHeaders, AZURE_API_VERSION, UPSTREAM_AZURE_KEY, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { ledgerRowOf, tokensOf, usageTotal } from '../helpers/ledger.js';
import { walkToHardCap } from '../helpers/budget-walk.js';

/** The fake resource's deployments (src/demo/fake-upstream/azure.ts) and the catalog models they are (seeds/catalog.json). */
const CATALOG_MODEL: Record<string, string> = { 'gpt-4.1': 'azure/gpt-4.1', 'gpt-4.1-mini': 'azure/gpt-4.1-mini', 'marketing-gpt41': 'azure/gpt-4.1' };
/** A use case of the same agent, for the budget walk, so the other calls' spend does not count against it. */
const WALKER: Tags = { bu: 'marketing', use_case: 'experience-management', agent_id: 'campaign-writer', session_id: 'sess-azure-walk' };

let gw: Gateway;
let writerKey: string;

beforeAll(async () => {
  gw = await startGateway();
  writerKey = await gw.key('campaign-writer');
});
afterAll(async () => gw?.close());

const ledgerRow = (requestId: string | null | undefined) => ledgerRowOf(gw, requestId);

/** The call's ledger row holds what the fake billed, priced at Azure's price for the deployment's model. */
async function expectMetered(requestId: string, deployment: string) {
  const billed = gw.upstream.usageLog.at(-1)!;
  expect(billed).toMatchObject({ provider: 'azure', status: 200, complete: true });
  const row = await ledgerRow(requestId);
  expect(tokensOf(row)).toEqual(billed.usage);
  expect(row).toMatchObject({ provider: 'azure', model_requested: deployment, model_served: CATALOG_MODEL[deployment], status: 200, partial: false });
  expect(normalizeDecimal(row.cost as string)).toBe(expectedCost(billed.usage, CATALOG_MODEL[deployment]!));
  return row;
}

describe('AzureOpenAI client through tollgate /azure', () => {
  it('meters a chat completion on a deployment at the Azure price, with the gateway key upstream and no agent credential', async () => {
    const client = gw.azure(writerKey, WRITER);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: '[cache] write a tagline for the spring campaign, please' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.url).toBe(`/openai/deployments/gpt-4.1/chat/completions?api-version=${AZURE_API_VERSION}`);
    expect(sent.headers['api-key']).toBe(UPSTREAM_AZURE_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-tollgate-'))).toEqual([]);
    // Azure's account markers stay in the gateway; its request id and rate limits reach the agent.
    expect(response.headers.get('x-ms-region')).toBeNull();
    expect(response.headers.get('azureml-model-session')).toBeNull();
    expect(response.headers.get('apim-request-id')).toBe(gw.upstream.usageLog.at(-1)!.requestId);
    expect(response.headers.get('x-tollgate-model-served')).toBe('azure/gpt-4.1');
    const row = await expectMetered(response.headers.get('x-tollgate-request-id')!, 'gpt-4.1');
    expect(Number(row.cached_input_tokens)).toBeGreaterThan(0);
    // The same tokens at OpenAI's own price would cost less: the row is priced per vendor.
    expect(normalizeDecimal(row.cost as string)).not.toBe(expectedCost(tokensOf(row), 'gpt-4.1'));
  });

  it('streams a chat completion, reading the usage it asked for and keeping that chunk from the client', async () => {
    const client = gw.azure(writerKey, WRITER, { deployment: 'marketing-gpt41' });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'ignored-by-a-pinned-deployment', stream: true, messages: [{ role: 'user', content: 'three words about tea' }] })
      .withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.filter((c) => c.choices.length > 0).length).toBeGreaterThan(1);
    expect(chunks.some((c) => c.usage)).toBe(false);
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.path).toBe('/openai/deployments/marketing-gpt41/chat/completions');
    expect((sent.body as { stream_options?: { include_usage?: boolean } }).stream_options?.include_usage).toBe(true);
    await expectMetered(response.headers.get('x-tollgate-request-id')!, 'marketing-gpt41');
  });

  it('meters a tool call and keeps the names of the tools', async () => {
    const client = gw.azure(writerKey, WRITER);
    const { data, response } = await client.chat.completions
      .create({
        model: 'gpt-4.1-mini',
        messages: [{ role: 'user', content: 'what is the weather in Lyon?' }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }],
      })
      .withResponse();
    expect(data.choices[0]?.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    const row = await expectMetered(response.headers.get('x-tollgate-request-id')!, 'gpt-4.1-mini');
    expect(row.tools).toEqual(['get_weather']);
  });

  it('meters Responses (/openai/responses) and embeddings, the deployment in the body', async () => {
    const client = gw.azure(writerKey, WRITER);
    const answer = await client.responses.create({ model: 'gpt-4.1-mini', input: 'a haiku about invoices', max_output_tokens: 16 }).withResponse();
    expect(gw.upstream.requests.at(-1)!.url).toBe(`/openai/responses?api-version=${AZURE_API_VERSION}`);
    await expectMetered(answer.response.headers.get('x-tollgate-request-id')!, 'gpt-4.1-mini');
    const embedded = await client.embeddings.create({ model: 'gpt-4.1', input: ['spring', 'campaign'] }).withResponse();
    expect(embedded.data.data).toHaveLength(2);
    expect(gw.upstream.requests.at(-1)!.path).toBe('/openai/deployments/gpt-4.1/embeddings');
    await expectMetered(embedded.response.headers.get('x-tollgate-request-id')!, 'gpt-4.1');
  });

  it('serves the v1 API routes (/openai/v1/…) with the deployment in the body', async () => {
    const v1 = new OpenAI({ apiKey: writerKey, baseURL: `${gw.url}/azure/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(WRITER) });
    const { response } = await v1.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    expect(gw.upstream.requests.at(-1)!.path).toBe('/openai/v1/chat/completions');
    expect(gw.upstream.requests.at(-1)!.headers['api-key']).toBe(UPSTREAM_AZURE_KEY);
    await expectMetered(response.headers.get('x-tollgate-request-id')!, 'gpt-4.1-mini');
  });
});

describe('refusals in the OpenAI error shape, nothing forwarded', () => {
  async function refused(call: Promise<unknown>, status: number, code: string) {
    const before = gw.upstream.requests.length;
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(status);
    expect((err as APIError).code).toBe(code);
    expect((err as APIError).type).toBeTruthy();
    expect(gw.upstream.requests.length).toBe(before);
    const requestId = (err as APIError).headers?.get('x-tollgate-request-id');
    await gw.flush();
    if (requestId) expect(await gw.app.tollgate.db('decision_log').where('request_id', requestId)).toMatchObject([{ provider: 'azure', allowed: false, code }]);
    return err as APIError;
  }

  it('refuses a bad credential', async () => {
    await refused(gw.azure('tg_not_a_real_key_0000000000000000', WRITER).chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }), 401, 'invalid_credential');
  });

  it('refuses an unknown deployment', async () => {
    const err = await refused(gw.azure(writerKey, WRITER).chat.completions.create({ model: 'no-such-deployment', messages: [{ role: 'user', content: 'hi' }] }), 400, 'unknown_model');
    expect(err.message).toContain('no-such-deployment');
  });

  it('refuses an unknown deployment named in the body (Responses, the v1 API) the same way', async () => {
    await refused(gw.azure(writerKey, WRITER).responses.create({ model: 'no-such-deployment', input: 'hi' }), 400, 'unknown_model');
    const v1 = new OpenAI({ apiKey: writerKey, baseURL: `${gw.url}/azure/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(WRITER) });
    await refused(v1.chat.completions.create({ model: 'no-such-deployment', messages: [{ role: 'user', content: 'hi' }] }), 400, 'unknown_model');
  });

  it('refuses a deployment or Responses call without api-version, nothing forwarded, in the decision log', async () => {
    for (const path of ['/deployments/gpt-4.1/chat/completions', '/responses']) {
      const before = gw.upstream.requests.length;
      const raw = await fetch(`${gw.url}/azure/openai${path}`, {
        method: 'POST', headers: { 'api-key': writerKey, 'content-type': 'application/json', ...tagHeaders(WRITER) },
        body: JSON.stringify({ model: 'gpt-4.1', input: 'hi', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(raw.status).toBe(400);
      expect(await raw.json()).toMatchObject({ error: { code: 'invalid_request', type: 'invalid_request_error', message: expect.stringContaining('api-version') } });
      expect(gw.upstream.requests.length).toBe(before);
      await gw.flush();
      const requestId = raw.headers.get('x-tollgate-request-id')!;
      expect(await gw.app.tollgate.db('decision_log').where('request_id', requestId)).toMatchObject([{ provider: 'azure', allowed: false, code: 'invalid_request', http_status: 400 }]);
    }
  });

  it('refuses a path Azure has but tollgate does not forward', async () => {
    await refused(gw.azure(writerKey, WRITER).completions.create({ model: 'gpt-4.1', prompt: 'hi' }), 404, 'unsupported_endpoint');
  });
});

describe('budget tiers on Azure', () => {
  it('walks a use case to the soft cap (serving the cheaper Azure deployment) and the hard cap (refused, not retried)', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: WALKER.use_case, limit: '0.003', unit: 'usd', period: 'month' });
    // Retries on: the refusal must still be one request (x-should-retry: false), one row in the decision log.
    const client = new AzureOpenAI({ apiKey: writerKey, endpoint: `${gw.url}/azure`, apiVersion: AZURE_API_VERSION, maxRetries: 2, defaultHeaders: tagHeaders(WALKER) });
    const { refusal } = await walkToHardCap(gw, {
      provider: 'azure', useCase: WALKER.use_case, refusedStatus: 429, maxCalls: 60,
      // The cheaper model goes up as its deployment: the path names it.
      requested: 'azure/gpt-4.1', cheaper: 'azure/gpt-4.1-mini', cheaperUrl: `/openai/deployments/gpt-4.1-mini/chat/completions?api-version=${AZURE_API_VERSION}`,
      call: () => client.chat.completions
        .create({ model: 'gpt-4.1', max_tokens: 20, messages: [{ role: 'user', content: 'one more line for the campaign brief' }] })
        .withResponse(),
      isRefusal: (e): e is APIError => e instanceof APIError,
      headersOf: (answer) => Object.fromEntries(answer.response.headers),
      maxOutputSent: (body) => (body as { max_tokens: number }).max_tokens,
    });
    expect(refusal.status).toBe(429);
    expect(refusal.code).toBe('budget_exhausted');
    expect(refusal.headers?.get('x-should-retry')).toBe('false');
  });
});

describe('the ledger and the fake', () => {
  it('agree on every Azure call the fake served, per token kind and cost', async () => {
    await gw.flush();
    const served = gw.upstream.usageLog.filter((r) => r.provider === 'azure' && r.status === 200);
    const rows = await gw.app.tollgate.db('usage_events').where({ provider: 'azure', status: 200 });
    expect(rows.length).toBe(served.length);
    expect(usageTotal(rows.map(tokensOf))).toEqual(usageTotal(served.map((r) => r.usage)));
  });
});
