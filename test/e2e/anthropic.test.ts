import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, PROMO, FORECASTER, UPSTREAM_ANTHROPIC_KEY, type Gateway, type Tags } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import type { NormalizedUsage } from '../../src/providers/types.js';
import type { UsageRecord } from '../../src/demo/fake-upstream.js';

let gw: Gateway;
let promoKey: string;
let forecasterKey: string;

beforeAll(async () => {
  gw = await startGateway();
  promoKey = await gw.key('promo-planner');
  forecasterKey = await gw.key('demand-forecaster');
});
afterAll(async () => gw?.close());

/** The fake's own record of the call, found by the request id it put on its answer (relayed by tollgate). */
function upstreamRecord(response: Response): UsageRecord {
  const upstreamId = response.headers.get('request-id');
  expect(upstreamId).toBeTruthy();
  const rec = gw.upstream.usageLog.find((r) => r.requestId === upstreamId);
  expect(rec).toBeDefined();
  expect(rec!.status).toBe(200);
  expect(rec!.complete).toBe(true);
  return rec!;
}

async function ledgerRow(response: Response) {
  const requestId = response.headers.get('x-tollgate-request-id');
  expect(requestId).toBeTruthy();
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId!);
  expect(rows).toHaveLength(1);
  return rows[0];
}

function tokensOf(row: Record<string, unknown>): NormalizedUsage {
  return {
    input_tokens: Number(row.input_tokens), cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens), output_tokens: Number(row.output_tokens),
  };
}

function expectMetered(row: Record<string, unknown>, usage: NormalizedUsage, model: string, tags: Tags, endpoint = '/messages') {
  expect(tokensOf(row)).toEqual(usage);
  expect(normalizeDecimal(row.cost as string)).toBe(expectedCost(usage, model));
  expect(row).toMatchObject({
    provider: 'anthropic', endpoint, bu_id: tags.bu, use_case_id: tags.use_case, agent_id: tags.agent_id, session_id: tags.session_id,
    model_requested: model, model_served: model, status: 200, partial: false, decision_code: 'ok', currency: 'USD',
  });
}

describe('Anthropic SDK through tollgate', () => {
  it('meters a non-streamed message with cache reads at the price in force', async () => {
    const client = gw.anthropic(promoKey, PROMO);
    const { data, response } = await client.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: '[cache] draft a buy-one-get-one promo for oat milk' }] })
      .withResponse();
    expect(data.content[0]?.type).toBe('text');
    expect(response.headers.get('x-tollgate-model-served')).toBe('claude-sonnet-4-5');
    const usage = upstreamRecord(response).usage;
    expect(usage.cached_input_tokens).toBeGreaterThan(0);
    expect(usage.cache_write_tokens).toBe(0);
    // What the SDK saw is what the fake reported and what the ledger holds.
    expect(data.usage.cache_read_input_tokens).toBe(usage.cached_input_tokens);
    expect(data.usage.input_tokens).toBe(usage.input_tokens);
    expect(data.usage.output_tokens).toBe(usage.output_tokens);
    const row = await ledgerRow(response);
    expectMetered(row, usage, 'claude-sonnet-4-5', PROMO);
    expect(row.price_id).not.toBeNull();
    expect(Number(row.cost)).toBeGreaterThan(0);
  });

  it('meters cache writes and cache reads together, at the cache-write price', async () => {
    const client = gw.anthropic(forecasterKey, FORECASTER);
    const { data, response } = await client.messages
      .create({
        model: 'claude-opus-4-1', max_tokens: 32,
        system: '[cache-write] You forecast weekly demand for every SKU in the northern region, store by store.',
        messages: [{ role: 'user', content: '[cache] forecast oat milk for week 12' }],
      })
      .withResponse();
    const usage = upstreamRecord(response).usage;
    expect(usage.cache_write_tokens).toBeGreaterThan(0);
    expect(usage.cached_input_tokens).toBeGreaterThan(0);
    expect(data.usage.cache_creation_input_tokens).toBe(usage.cache_write_tokens);
    const row = await ledgerRow(response);
    expectMetered(row, usage, 'claude-opus-4-1', FORECASTER);
    // Cache writes cost more than fresh input on Anthropic: a ledger pricing them as input would differ.
    const asFresh = { ...usage, input_tokens: usage.input_tokens + usage.cache_write_tokens, cache_write_tokens: 0 };
    expect(normalizeDecimal(row.cost as string)).not.toBe(expectedCost(asFresh, 'claude-opus-4-1'));
  });

  it('meters messages.create({ stream: true }) from message_start and message_delta', async () => {
    const client = gw.anthropic(promoKey, PROMO);
    const { data: stream, response } = await client.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 50, stream: true, messages: [{ role: 'user', content: '[cache-write] [cache] five words on endcaps' }] })
      .withResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const types: string[] = [];
    let text = '';
    let finalOutput: number | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      if (ev.type === 'message_delta') finalOutput = ev.usage.output_tokens;
    }
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(text.length).toBeGreaterThan(0);
    const usage = upstreamRecord(response).usage;
    expect(usage.output_tokens).toBe(finalOutput);
    // message_start reports output 1; the ledger must hold the final count, not the first.
    expect(usage.output_tokens).toBeGreaterThan(1);
    expect(usage.cache_write_tokens).toBeGreaterThan(0);
    expect(usage.cached_input_tokens).toBeGreaterThan(0);
    expectMetered(await ledgerRow(response), usage, 'claude-haiku-4-5', PROMO);
  });

  it('meters client.messages.stream() and the SDK assembles the final message', async () => {
    const client = gw.anthropic(forecasterKey, FORECASTER);
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 12, messages: [{ role: 'user', content: 'summarise last week in a line' }] });
    const { response } = await stream.withResponse();
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    expect(final.usage.output_tokens).toBe(12);
    const usage = upstreamRecord(response).usage;
    expect(usage).toEqual({ input_tokens: final.usage.input_tokens, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 12 });
    expectMetered(await ledgerRow(response), usage, 'claude-sonnet-4-5', FORECASTER);
  });

  it('answers count_tokens and meters it as one free row', async () => {
    const client = gw.anthropic(promoKey, PROMO);
    const { data, response } = await client.messages
      .countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'how many tokens is this prompt, roughly speaking?' }] })
      .withResponse();
    const rec = gw.upstream.usageLog.find((r) => r.requestId === response.headers.get('request-id'));
    expect(rec?.path).toBe('/v1/messages/count_tokens');
    expect(rec?.counted).toBeGreaterThan(0);
    expect(data.input_tokens).toBe(rec!.counted);
    const row = await ledgerRow(response);
    expectMetered(row, { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 }, 'claude-sonnet-4-5', PROMO, '/messages/count_tokens');
    expect(normalizeDecimal(row.cost as string)).toBe('0');
  });

  it('writes exactly one ledger row per call', async () => {
    await gw.flush();
    const before = Number((await gw.app.tollgate.db('usage_events').count({ n: '*' }))[0]!.n);
    const upstreamBefore = gw.upstream.requests.length;
    const client = gw.anthropic(promoKey, PROMO);
    await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'one' }] });
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'two' }] });
    await stream.done();
    await client.messages.countTokens({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'three' }] });
    await gw.flush();
    const after = Number((await gw.app.tollgate.db('usage_events').count({ n: '*' }))[0]!.n);
    expect(gw.upstream.requests.length - upstreamBefore).toBe(3);
    expect(after - before).toBe(3);
  });

  it('sends the provider key upstream, never the agent key, tags or baggage, and never shows the provider key', async () => {
    const baggage = `bu=${PROMO.bu},use_case=${PROMO.use_case},agent_id=${PROMO.agent_id},session_id=${PROMO.session_id}`;
    const client = gw.anthropic(promoKey, PROMO, { baggage });
    const { data, response } = await client.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] })
      .withResponse();
    const received = gw.upstream.requests.find((r) => r.id === response.headers.get('request-id'));
    expect(received).toBeDefined();
    expect(received!.headers['x-api-key']).toBe(UPSTREAM_ANTHROPIC_KEY);
    // The SDK sent the agent key as Authorization: Bearer; it must not ride along to the provider.
    expect(received!.headers.authorization).toBeUndefined();
    expect(received!.headers['anthropic-version']).toBeDefined();
    expect(received!.headers.baggage).toBeUndefined();
    const all = JSON.stringify(received!.headers) + JSON.stringify(received!.body);
    expect(all).not.toContain(promoKey);
    expect(all).not.toContain('x-tollgate-');
    expect(all).not.toContain(PROMO.session_id);
    const seen = JSON.stringify(data) + JSON.stringify([...response.headers]);
    expect(seen).not.toContain(UPSTREAM_ANTHROPIC_KEY);
  });
});
