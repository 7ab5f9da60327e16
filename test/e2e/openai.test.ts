import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, PROMO, WRITER, UPSTREAM_OPENAI_KEY, type Gateway } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import type { NormalizedUsage } from '../../src/providers/types.js';

let gw: Gateway;
let writerKey: string;

beforeAll(async () => {
  gw = await startGateway();
  writerKey = await gw.key('campaign-writer');
});
afterAll(async () => gw?.close());

async function ledgerRow(requestId: string) {
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId);
  expect(rows).toHaveLength(1);
  return rows[0];
}

function lastUpstreamUsage(): NormalizedUsage {
  const rec = gw.upstream.usageLog.at(-1)!;
  expect(rec.status).toBe(200);
  return rec.usage;
}

function expectTokens(row: Record<string, unknown>, usage: NormalizedUsage) {
  expect({
    input_tokens: row.input_tokens, cached_input_tokens: row.cached_input_tokens,
    cache_write_tokens: row.cache_write_tokens, output_tokens: row.output_tokens,
  }).toEqual(usage);
}

describe('OpenAI SDK through tollgate', () => {
  it('meters a chat completion with cached tokens at the price in force', async () => {
    const client = gw.openai(writerKey, WRITER);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: '[cache] write a tagline for the spring campaign, please' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const requestId = response.headers.get('x-tollgate-request-id')!;
    // A UUIDv7 of this call's time (src/gateway/request-id.ts).
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Math.abs(parseInt(requestId.slice(0, 8) + requestId.slice(9, 13), 16) - Date.now())).toBeLessThan(60_000);
    expect(response.headers.get('x-tollgate-budget-tier')).toBe('ok');
    const usage = lastUpstreamUsage();
    expect(usage.cached_input_tokens).toBeGreaterThan(0);
    // OpenAI counts cached tokens inside prompt_tokens; the ledger keeps them apart.
    expect(data.usage!.prompt_tokens).toBe(usage.input_tokens + usage.cached_input_tokens);
    const row = await ledgerRow(requestId);
    expectTokens(row, usage);
    expect(normalizeDecimal(row.cost)).toBe(expectedCost(usage, 'gpt-4.1'));
    expect(row).toMatchObject({ bu_id: 'marketing', use_case_id: 'digital-marketing', agent_id: 'campaign-writer', session_id: WRITER.session_id, model_requested: 'gpt-4.1', model_served: 'gpt-4.1', status: 200, partial: false, decision_code: 'ok' });
    expect(row.price_id).not.toBeNull();
  });

  it('streams a chat completion the client did not ask usage for, without showing it the usage chunk', async () => {
    const client = gw.openai(writerKey, WRITER);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'three words about tea' }] })
      .withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    // tollgate asked upstream for usage on the client's behalf.
    const sent = gw.upstream.requests.at(-1)!.body as { stream_options?: { include_usage?: boolean } };
    expect(sent.stream_options?.include_usage).toBe(true);
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    const usage = lastUpstreamUsage();
    expect(usage.output_tokens).toBeGreaterThan(0);
    expectTokens(row, usage);
    expect(normalizeDecimal(row.cost)).toBe(expectedCost(usage, 'gpt-4.1-mini'));
    expect(row.partial).toBe(false);
  });

  it('streams a chat completion with include_usage as the client asked', async () => {
    const client = gw.openai(writerKey, WRITER);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4.1-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: '[cache] hello there' }] })
      .withResponse();
    let reported;
    for await (const chunk of stream) if (chunk.usage) reported = chunk.usage;
    expect(reported).toBeDefined();
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expect(Number(row.input_tokens) + Number(row.cached_input_tokens)).toBe(reported!.prompt_tokens);
    expect(Number(row.output_tokens)).toBe(reported!.completion_tokens);
    expectTokens(row, lastUpstreamUsage());
  });

  it('meters the Responses API, streamed and not', async () => {
    const client = gw.openai(writerKey, WRITER);
    const { data, response } = await client.responses.create({ model: 'gpt-4.1', input: '[cache] name a colour' }).withResponse();
    expect(data.output_text).toBeTruthy();
    let row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expectTokens(row, lastUpstreamUsage());
    expect(normalizeDecimal(row.cost)).toBe(expectedCost(lastUpstreamUsage(), 'gpt-4.1'));

    const { data: stream, response: r2 } = await client.responses.create({ model: 'gpt-4.1', input: 'name a fruit', stream: true }).withResponse();
    const types = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types.at(-1)).toBe('response.completed');
    row = await ledgerRow(r2.headers.get('x-tollgate-request-id')!);
    expectTokens(row, lastUpstreamUsage());
  });

  it('meters embeddings', async () => {
    const client = gw.openai(writerKey, WRITER);
    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['spring sale', 'summer sale'] }).withResponse();
    expect(data.data).toHaveLength(2);
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    const usage = lastUpstreamUsage();
    expect(usage.input_tokens).toBeGreaterThan(0);
    expectTokens(row, usage);
    expect(normalizeDecimal(row.cost)).toBe(expectedCost(usage, 'text-embedding-3-small'));
  });

  it('never forwards the agent credential or tags, and never shows the provider key', async () => {
    const client = gw.openai(writerKey, WRITER, { baggage: 'bu=marketing' });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const received = gw.upstream.requests.at(-1)!;
    expect(received.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
    const all = JSON.stringify(received.headers);
    expect(all).not.toContain(writerKey);
    expect(all).not.toContain('x-tollgate-');
    expect(received.headers.baggage).toBeUndefined();
    expect(JSON.stringify(data) + JSON.stringify([...response.headers])).not.toContain(UPSTREAM_OPENAI_KEY);
  });

  it('counts the cached prompt share once, whichever agent asked', async () => {
    const key = await gw.key('promo-planner');
    const client = gw.openai(key, PROMO);
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: '[cache] promo idea' }] }).withResponse();
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expect(row.agent_id).toBe('promo-planner');
    expectTokens(row, lastUpstreamUsage());
  });
});
