import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BedrockRuntimeServiceException, ConverseCommand, ConverseStreamCommand, InvokeModelCommand, InvokeModelWithResponseStreamCommand,
  type ConverseStreamOutput, type ResponseStream,
} from '@aws-sdk/client-bedrock-runtime';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { PROMO, setBudget, startGateway, tagHeaders, UPSTREAM_BEDROCK, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { writeBatch } from '../../src/db/ledger.js';
import { usageEvent } from '../integration/fixtures/events.js';
import type { NormalizedUsage } from '../../src/providers/types.js';
import { ledgerRowOf, tokensOf, usageTotal } from '../helpers/ledger.js';
import { walkToHardCap } from '../helpers/budget-walk.js';

const SONNET = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const SONNET_US = `us.${SONNET}`;
const ANTHROPIC_VERSION = 'bedrock-2023-05-31';

let gw: Gateway;
let writerKey: string;

beforeAll(async () => {
  gw = await startGateway();
  writerKey = await gw.key('campaign-writer');
  await gw.allow('campaign-writer', ['bedrock/claude-sonnet-4-5', 'bedrock/claude-haiku-4-5']);
});
afterAll(async () => gw?.close());

const ledgerRow = (requestId: string | null | undefined) => ledgerRowOf(gw, requestId);

const fourKinds = (u: NormalizedUsage): NormalizedUsage => ({
  input_tokens: u.input_tokens, cached_input_tokens: u.cached_input_tokens, cache_write_tokens: u.cache_write_tokens, output_tokens: u.output_tokens,
});

/** The last call's ledger row holds what the fake billed, priced at Bedrock's price, and the fake verified tollgate's signature. */
async function expectMetered(requestId: string | undefined, sent: string, served = 'bedrock/claude-sonnet-4-5') {
  const billed = gw.upstream.usageLog.at(-1)!;
  expect(billed).toMatchObject({ provider: 'bedrock', status: 200, complete: true });
  const row = await ledgerRow(requestId);
  expect(tokensOf(row)).toEqual(fourKinds(billed.usage));
  expect(row).toMatchObject({ provider: 'bedrock', model_requested: sent, model_served: served, status: 200, partial: false });
  expect(normalizeDecimal(row.cost as string)).toBe(expectedCost(billed.usage, served));
  expectCleanUpstream();
  return row;
}

/** tollgate's SigV4 went up (the fake checked it), never the agent's key, an x-tollgate-* tag or the SDK's own signing headers. */
function expectCleanUpstream() {
  const sent = gw.upstream.requests.at(-1)!;
  expect(String(sent.headers.authorization)).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${UPSTREAM_BEDROCK.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`));
  expect(JSON.stringify(sent.headers)).not.toContain(writerKey);
  expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-tollgate-') || h.startsWith('amz-sdk-') || h === 'x-amz-user-agent')).toEqual([]);
}

const requestIdOf = (output: { $metadata: { requestId?: string } }) => output.$metadata.requestId;
const text = (s: string) => [{ role: 'user' as const, content: [{ text: s }] }];

describe('@aws-sdk/client-bedrock-runtime through tollgate /bedrock', () => {
  it('meters Converse with cache reads and writes apart from the input, tollgate\'s signature upstream', async () => {
    const { client, answers, lastId } = tracked(writerKey, WRITER);
    const answer = await client.send(new ConverseCommand({
      modelId: SONNET, messages: text('[cache] [cache-write] a tagline for the spring campaign, please'), inferenceConfig: { maxTokens: 40 },
    }));
    expect(answer.output?.message?.content?.[0]?.text).toBeTruthy();
    expect(answer.usage?.cacheReadInputTokens).toBeGreaterThan(0);
    expect(answer.usage?.cacheWriteInputTokens).toBeGreaterThan(0);
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.url).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse');
    expect(requestIdOf(answer)).toBe(gw.upstream.usageLog.at(-1)!.requestId);
    // Bedrock's front-end markers and anything signing-related stay in the gateway.
    const back = Object.keys(answers.at(-1)!);
    expect(back.filter((h) => h.startsWith('x-amz-') || h === 'x-amzn-trace-id' || h === 'authorization')).toEqual([]);
    const row = await expectMetered(lastId(), SONNET);
    expect(Number(row.input_tokens)).toBe(answer.usage!.inputTokens);
    expect(Number(row.cached_input_tokens)).toBe(answer.usage!.cacheReadInputTokens);
    expect(Number(row.cache_write_tokens)).toBe(answer.usage!.cacheWriteInputTokens);
    expect(Number(row.output_tokens)).toBe(answer.usage!.outputTokens);
  });

  it('streams ConverseStream (AWS event stream), metering its metadata event, through a cross-region inference profile', async () => {
    const { client, lastId } = tracked(writerKey, WRITER);
    const out = await client.send(new ConverseStreamCommand({ modelId: SONNET_US, messages: text('three words about tea') }));
    const events: ConverseStreamOutput[] = [];
    for await (const event of out.stream!) events.push(event);
    const deltas = events.filter((e) => e.contentBlockDelta !== undefined);
    expect(deltas.length).toBeGreaterThan(1);
    const metadata = events.find((e) => e.metadata !== undefined)!.metadata!;
    expect(gw.upstream.requests.at(-1)!.url).toBe('/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream');
    const row = await expectMetered(lastId(), SONNET_US);
    expect(Number(row.output_tokens)).toBe(metadata.usage!.outputTokens);
  });

  it('never forwards the agent\'s AWS signing headers, nor options that change the price or reach into the account', async () => {
    const agentHeaders = {
      'x-amz-security-token': 'agent-session-token', 'x-amz-date': '20200101T000000Z', 'x-amzn-bedrock-guardrailidentifier': 'gr-123',
      'x-amzn-bedrock-guardrailversion': '1', 'x-amzn-bedrock-performanceconfig-latency': 'optimized', 'x-amzn-bedrock-service-tier': 'priority',
    };
    const { client, lastId } = tracked(writerKey, WRITER, { headers: agentHeaders });
    await client.send(new ConverseCommand({ modelId: SONNET, messages: text('hi'), inferenceConfig: { maxTokens: 3 } }));
    const sent = gw.upstream.requests.at(-1)!.headers;
    for (const name of Object.keys(agentHeaders).filter((h) => h !== 'x-amz-date')) expect(sent[name], name).toBeUndefined();
    expect(sent['x-amz-date']).not.toBe('20200101T000000Z');
    await expectMetered(lastId(), SONNET);
  });

  it('meters a Converse tool call and keeps the names of the tools', async () => {
    const { client, lastId } = tracked(writerKey, WRITER);
    const answer = await client.send(new ConverseCommand({
      modelId: SONNET, messages: text('what is the weather in Lyon?'),
      toolConfig: { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: { query: { type: 'string' } } } } } }] },
    }));
    expect(answer.output?.message?.content?.[0]?.toolUse?.name).toBe('get_weather');
    const row = await expectMetered(lastId(), SONNET);
    expect(row.tools).toEqual(['get_weather']);
  });

  it('meters InvokeModel with an Anthropic body', async () => {
    const body = { anthropic_version: ANTHROPIC_VERSION, max_tokens: 30, messages: [{ role: 'user', content: '[cache] hello from invoke' }] };
    const { client, lastId } = tracked(writerKey, WRITER);
    const out = await client.send(new InvokeModelCommand({ modelId: SONNET, body: JSON.stringify(body), contentType: 'application/json' }));
    const answer = JSON.parse(new TextDecoder().decode(out.body)) as { content: { text: string }[]; usage: { input_tokens: number; output_tokens: number } };
    expect(answer.content[0]!.text).toBeTruthy();
    expect(gw.upstream.requests.at(-1)!.url).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke');
    const row = await expectMetered(lastId(), SONNET);
    expect(Number(row.output_tokens)).toBe(answer.usage.output_tokens);
  });

  it('meters InvokeModelWithResponseStream from its chunks and invocation metrics', async () => {
    const body = { anthropic_version: ANTHROPIC_VERSION, max_tokens: 12, messages: [{ role: 'user', content: '[cache-write] stream me a line' }] };
    const { client, lastId } = tracked(writerKey, WRITER);
    const out = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: SONNET, body: JSON.stringify(body), contentType: 'application/json' }));
    const events: ResponseStream[] = [];
    for await (const event of out.body!) events.push(event);
    const decoded = events.map((e) => JSON.parse(new TextDecoder().decode(e.chunk!.bytes)) as Record<string, unknown>);
    expect(decoded.map((e) => e.type)).toContain('content_block_delta');
    const metrics = decoded.at(-1)!['amazon-bedrock-invocationMetrics'] as { outputTokenCount: number; cacheWriteInputTokenCount: number };
    const row = await expectMetered(lastId(), SONNET);
    expect(Number(row.output_tokens)).toBe(metrics.outputTokenCount);
    expect(Number(row.cache_write_tokens)).toBe(metrics.cacheWriteInputTokenCount);
  });

  it('meters a ConverseStream cut by an exception frame midway as partial, at what it had reported', async () => {
    gw.upstream.script({ fault: 'stream-error', afterEvents: 4, type: 'modelStreamErrorException', message: 'The model stream failed.' });
    const { client, lastId } = tracked(writerKey, WRITER, { maxAttempts: 1 });
    const out = await client.send(new ConverseStreamCommand({ modelId: SONNET, messages: text('a long answer please') }));
    const failed = await (async () => {
      for await (const _event of out.stream!) { /* read on */ }
    })().then(() => undefined, (e: unknown) => e as Error);
    expect(failed?.name).toBe('ModelStreamErrorException');
    expect(gw.upstream.usageLog.at(-1)).toMatchObject({ outcome: 'stream-error', complete: false });
    const row = await ledgerRow(lastId());
    expect(row.partial).toBe(true);
    // Converse streams report usage only at their end: what passed is metered from the estimate and the deltas seen (3).
    expect(Number(row.output_tokens)).toBe(3);
  });
});

describe('@anthropic-ai/bedrock-sdk through tollgate /bedrock', () => {
  it('meters messages.create (InvokeModel) with the agent key as its API key', async () => {
    const { data: message, response } = await gw.anthropicBedrock(writerKey, WRITER).messages
      .create({ model: SONNET, max_tokens: 25, messages: [{ role: 'user', content: 'hello bedrock' }] }).withResponse();
    expect(message.content[0]).toMatchObject({ type: 'text' });
    expect(gw.upstream.requests.at(-1)!.url).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke');
    const row = await expectMetered(response.headers.get('x-tollgate-request-id') ?? undefined, SONNET);
    expect(Number(row.output_tokens)).toBe(message.usage.output_tokens);
  });

  it('meters messages.stream (InvokeModelWithResponseStream)', async () => {
    const stream = gw.anthropicBedrock(writerKey, WRITER).messages.stream({ model: SONNET_US, max_tokens: 15, messages: [{ role: 'user', content: 'stream a haiku' }] });
    const { response } = await stream.withResponse();
    const final = await stream.finalMessage();
    expect(final.usage.output_tokens).toBe(15);
    expect(gw.upstream.requests.at(-1)!.url).toBe('/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream');
    await expectMetered(response.headers.get('x-tollgate-request-id') ?? undefined, SONNET_US);
  });
});

/** A Bedrock client that keeps the x-tollgate-* headers of every answer it gets (the AWS SDK's output hides them). */
function tracked(key: string, tags: Partial<Tags>, opts?: Parameters<Gateway['bedrock']>[2]) {
  const client = gw.bedrock(key, tags, opts);
  const answers: Record<string, string>[] = [];
  client.middlewareStack.add((next) => async (args) => {
    const out = await next(args);
    answers.push((out.response as { headers: Record<string, string> }).headers);
    return out;
  }, { step: 'deserialize', name: 'tollgateAnswerHeaders' });
  return { client, answers, lastId: () => answers.at(-1)?.['x-tollgate-request-id'] };
}

describe('models an agent is allowed', () => {
  it('lets an agent allowed the canonical model use it on Bedrock, priced at Bedrock\'s price', async () => {
    const { client, lastId } = tracked(await gw.key(PROMO.agent_id), PROMO);
    await client.send(new ConverseCommand({ modelId: SONNET_US, messages: text('a promo line'), inferenceConfig: { maxTokens: 8 } }));
    await expectMetered(lastId(), SONNET_US);
  });

  it('refuses a Bedrock model whose canonical model the agent is not allowed, as AccessDeniedException', async () => {
    const before = gw.upstream.requests.length;
    const tags: Tags = { bu: 'supply-chain', use_case: 'inventory-management', agent_id: 'inventory-optimizer', session_id: 'sess-inv-bedrock' };
    const err = await gw.bedrock(await gw.key(tags.agent_id), tags).send(new ConverseCommand({ modelId: SONNET, messages: text('hi') })).catch((e: unknown) => e as BedrockRuntimeServiceException);
    expect(err).toBeInstanceOf(BedrockRuntimeServiceException);
    expect([(err as BedrockRuntimeServiceException).name, (err as BedrockRuntimeServiceException).$metadata.httpStatusCode]).toEqual(['AccessDeniedException', 403]);
    expect(gw.upstream.requests.length).toBe(before);
  });
});

describe("refusals in Bedrock's error shape, nothing forwarded, in the decision log", () => {
  async function refused(call: Promise<unknown>, status: number, type: string, code: string) {
    const before = gw.upstream.requests.length;
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BedrockRuntimeServiceException);
    const e = err as BedrockRuntimeServiceException;
    expect(e.name).toBe(type);
    expect(e.$metadata.httpStatusCode).toBe(status);
    expect(e.$metadata.attempts).toBe(1);
    expect(gw.upstream.requests.length).toBe(before);
    await gw.flush();
    const logged = await gw.app.tollgate.db('decision_log').where({ provider: 'bedrock', allowed: false }).orderBy('ts', 'desc').first();
    expect(logged).toMatchObject({ code, http_status: status });
    return e;
  }

  it('refuses a model id the catalog does not know', async () => {
    const e = await refused(gw.bedrock(writerKey, WRITER).send(new ConverseCommand({ modelId: 'anthropic.claude-0-nonexistent-v1:0', messages: text('hi') })), 400, 'ValidationException', 'unknown_model');
    expect(e.message).toContain('anthropic.claude-0-nonexistent-v1:0');
  });

  it('refuses an ARN with a message saying what tollgate takes', async () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123';
    const e = await refused(gw.bedrock(writerKey, WRITER).send(new ConverseCommand({ modelId: arn, messages: text('hi') })), 400, 'ValidationException', 'invalid_request');
    expect(e.message).toMatch(/not an ARN/);
  });

  it('refuses a request signed with AWS keys and no tollgate credential, saying tollgate takes its agent key as the bearer token', async () => {
    const signed = new BedrockRuntimeClient({
      endpoint: `${gw.url}/bedrock`, region: 'us-east-1', requestHandler: new NodeHttpHandler(),
      credentials: { accessKeyId: 'AKIASOMEONESOWNKEY01', secretAccessKey: 'someone-elses-secret-0123456789abcdef012' },
    });
    signed.middlewareStack.add((next) => async (args) => {
      Object.assign((args.request as { headers: Record<string, string> }).headers, tagHeaders(WRITER));
      return next(args);
    }, { step: 'build', name: 'tollgateTags' });
    const e = await refused(signed.send(new ConverseCommand({ modelId: SONNET, messages: text('hi') })), 403, 'AccessDeniedException', 'invalid_credential');
    expect(e.message).toMatch(/bearer token/);
  });

  it('refuses a key tollgate does not know', async () => {
    await refused(gw.bedrock('tg_not_a_real_key_0000000000000000', WRITER).send(new ConverseCommand({ modelId: SONNET, messages: text('hi') })), 403, 'AccessDeniedException', 'invalid_credential');
  });

  it('refuses an InvokeModel body that is not Anthropic\'s Messages', async () => {
    const body = JSON.stringify({ inputText: 'hello', textGenerationConfig: { maxTokenCount: 10 } });
    const e = await refused(gw.bedrock(writerKey, WRITER).send(new InvokeModelCommand({ modelId: SONNET, body, contentType: 'application/json' })), 400, 'ValidationException', 'invalid_request');
    expect(e.message).toMatch(/Messages format/);
  });

  it('passes Bedrock\'s own throttling through, which the AWS SDK retries', async () => {
    gw.upstream.script({ fault: 'error', status: 429, type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.', times: 2 });
    const before = gw.upstream.requests.length;
    const answer = await gw.bedrock(writerKey, WRITER).send(new ConverseCommand({ modelId: SONNET, messages: text('again') }));
    expect(answer.$metadata.attempts).toBe(3);
    expect(gw.upstream.requests.length - before).toBe(3);
  });
});

/** A use case of WRITER's BU with a budget and `spent` of it already in the ledger. */
let seq = 0;
async function budgetedUseCase(limit: string, unit: 'usd' | 'tokens', spent = 0, cost = '0'): Promise<Tags> {
  const useCase = `bedrock-walk-${++seq}`;
  await gw.app.tollgate.db('use_cases').insert({ id: useCase, bu_id: WRITER.bu, name: useCase, class: 'customer-experience', owner_name: 'Test owner', owner_email: 'owner@example.com' });
  await gw.app.tollgate.db('agent_use_cases').insert({ agent_id: WRITER.agent_id, use_case_id: useCase });
  await gw.app.tollgate.catalog.refresh();
  // Applied on the replica now; the spend below is read from the counters when the first call takes its lease.
  await setBudget(gw, { scope: 'use_case', scopeId: useCase, limit, unit, period: 'month' });
  if (spent > 0) {
    await writeBatch(gw.app.tollgate.db, [usageEvent(seq, {
      request_id: `prime-${useCase}`, ts: new Date().toISOString(), bu_id: WRITER.bu, use_case_id: useCase, agent_id: WRITER.agent_id,
      input_tokens: spent, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0, cost,
    }, 'bedrock')]);
  }
  return { ...WRITER, use_case: useCase, session_id: `sess-${useCase}` };
}

describe('budget tiers on Bedrock', () => {
  it('walks a use case to the soft cap (serving Haiku on Bedrock, in the agent\'s profile) and the hard cap, refused in a shape the AWS SDK does not retry', async () => {
    // $0.0038 of $0.004 already spent: a Sonnet call or two to the soft cap, a few Haiku ones to the hard cap.
    const tags = await budgetedUseCase('0.004', 'usd', 1, '0.0038');
    const { client, answers } = tracked(writerKey, tags);
    const { refusal } = await walkToHardCap(gw, {
      provider: 'bedrock', useCase: tags.use_case, refusedStatus: 400, maxCalls: 80,
      // Behind the agent's inference profile, as the agent's own model was.
      requested: 'bedrock/claude-sonnet-4-5', cheaper: 'bedrock/claude-haiku-4-5', cheaperUrl: '/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse',
      call: () => client.send(new ConverseCommand({ modelId: SONNET_US, messages: text('one more line for the campaign brief'), inferenceConfig: { maxTokens: 5 } })),
      isRefusal: (e): e is BedrockRuntimeServiceException => e instanceof BedrockRuntimeServiceException,
      headersOf: () => answers.at(-1)!,
      maxOutputSent: (body) => (body as { inferenceConfig: { maxTokens: number } }).inferenceConfig.maxTokens,
    });
    expect(refusal.name, refusal.message).toBe('ServiceQuotaExceededException');
    expect(refusal.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
  });

  it('clamps Converse with extended thinking to a valid call: the thinking budget stays below maxTokens', async () => {
    // A token budget of 10,000 (hard cap 11,000), 9,000 spent: room for about 1,900 output tokens.
    const tags = await budgetedUseCase('10000', 'tokens', 9_000);
    const { client, answers } = tracked(writerKey, tags);
    const answer = await client.send(new ConverseCommand({
      modelId: SONNET, messages: text('forecast next week'), inferenceConfig: { maxTokens: 4096 },
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } },
    }));
    expect(answer.output?.message).toBeTruthy();
    const clamp = Number(answers.at(-1)!['x-tollgate-output-clamped']);
    expect(clamp).toBeGreaterThan(1025);
    expect(clamp).toBeLessThan(2048);
    const sent = gw.upstream.requests.at(-1)!.body as { inferenceConfig: { maxTokens: number }; additionalModelRequestFields: { thinking: { budget_tokens: number } } };
    expect(sent.inferenceConfig.maxTokens).toBe(clamp);
    expect(sent.additionalModelRequestFields.thinking.budget_tokens).toBe(clamp - 1);
    expect(gw.upstream.usageLog.at(-1)!.status).toBe(200);
  });

  it('refuses with the budget code, nothing forwarded, when not even the least thinking budget fits', async () => {
    const tags = await budgetedUseCase('10000', 'tokens', 10_400);
    const before = gw.upstream.requests.length;
    const err = await gw.bedrock(writerKey, tags).send(new ConverseCommand({
      modelId: SONNET, messages: text('forecast next week'), inferenceConfig: { maxTokens: 4096 },
      additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } },
    })).catch((e: unknown) => e as BedrockRuntimeServiceException);
    expect(err).toBeInstanceOf(BedrockRuntimeServiceException);
    expect((err as BedrockRuntimeServiceException).name).toBe('ServiceQuotaExceededException');
    expect((err as BedrockRuntimeServiceException).$metadata.attempts).toBe(1);
    expect(gw.upstream.requests.length).toBe(before);
  });
});

describe('the ledger and the fake', () => {
  it('agree on every Bedrock call the fake served, per token kind', async () => {
    await gw.flush();
    // Whole answers: a stream cut before its usage report is metered from the estimate (its own test above).
    const served = gw.upstream.usageLog.filter((r) => r.provider === 'bedrock' && r.status === 200 && r.complete);
    const rows = await gw.app.tollgate.db('usage_events').where({ provider: 'bedrock', status: 200, partial: false });
    expect(rows.length).toBe(served.length);
    expect(usageTotal(rows.map(tokensOf))).toEqual(usageTotal(served.map((r) => r.usage)));
  });
});
