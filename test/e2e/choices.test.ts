import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { setBudget, startGateway, tagHeaders, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { seedPriceAt } from '../helpers/expect-cost.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * Issue 16 item 5: `n: 128, max_tokens: 2000` under a small hard cap was admitted with a reservation of one
 * answer and spent 41 times the cap. Every answer may use the whole output limit: the worst case, the clamp
 * (per answer) and "no room" (not one token per answer) count them all.
 */

const INVENTORY: Tags = { bu: 'supply-chain', use_case: 'inventory-management', agent_id: 'inventory-optimizer', session_id: 'sess-n-1' };
const MODEL = 'gpt-4.1-mini';
const HARD_CAP = 1.1;

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => gw?.close());

/** An OpenAI client that reports the gateway's prompt estimate of each body it sent (src/gateway/estimate.ts). */
async function client(agent: string, tags: Tags) {
  const sent: number[] = [];
  const fetchCounting: typeof fetch = async (input, init) => {
    sent.push(typeof init?.body === 'string' ? promptTokens(JSON.parse(init.body) as object) : 0);
    return fetch(input, init);
  };
  const openai = new OpenAI({ apiKey: await gw.key(agent), baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders(tags), fetch: fetchCounting });
  return { openai, inputEstimate: () => sent.at(-1)! };
}

const ask = (n: number) => ({ model: MODEL, n, max_tokens: 2000, messages: [{ role: 'user' as const, content: 'name a promotion' }] });

async function ledgerRow(requestId: string | null) {
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId!);
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, string | number>;
}

describe('n answers through the OpenAI SDK', () => {
  it('clamps n: 128, max_tokens: 2000 under a $0.05 budget per answer, so that all 128 fit under the cap', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: WRITER.use_case, limit: '0.05', unit: 'usd', period: 'month' });
    const { openai, inputEstimate } = await client('campaign-writer', WRITER);
    const { data, response } = await openai.chat.completions.create(ask(128)).withResponse();
    const price = seedPriceAt(MODEL, new Date());
    const [inPrice, outPrice] = [Number(price.input_per_mtok) / 1e6, Number(price.output_per_mtok) / 1e6];
    const room = 0.05 * HARD_CAP - inputEstimate() * inPrice;
    const clamp = Number(response.headers.get('x-tollgate-output-clamped'));
    // The largest limit per answer whose 128 answers fit (counted as one answer, 2000 fitted and nothing was clamped).
    expect(clamp).toBe(Math.floor(room / (128 * outPrice)));
    const forwarded = gw.upstream.requests.at(-1)!.body as { n: number; max_tokens: number };
    expect(forwarded).toMatchObject({ n: 128, max_tokens: clamp });
    expect(forwarded.max_tokens * forwarded.n * outPrice).toBeLessThanOrEqual(room);
    expect(data.choices).toHaveLength(128);
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id'));
    expect(Number(row.output_tokens)).toBe(gw.upstream.usageLog.at(-1)!.usage.output_tokens);
    expect(Number(row.cost)).toBeLessThanOrEqual(0.05 * HARD_CAP);
  });

  it('keeps real spend under a token cap when every answer uses its whole limit, then refuses a call with no token per answer', async () => {
    await setBudget(gw, { scope: 'use_case', scopeId: INVENTORY.use_case, limit: '2000', unit: 'tokens', period: 'month' });
    const cap = 2000 * HARD_CAP;
    const { openai, inputEstimate } = await client('inventory-optimizer', INVENTORY);
    const { response } = await openai.chat.completions.create(ask(128)).withResponse();
    const clamp = Number(response.headers.get('x-tollgate-output-clamped'));
    expect(clamp).toBe(Math.floor((cap - inputEstimate()) / 128));
    // The fake answers min(max_tokens, 20) words per answer: 20 each unclamped, 2,560 tokens past the 2,200 cap.
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id'));
    const tokens = Number(row.input_tokens) + Number(row.output_tokens);
    expect(Number(row.output_tokens)).toBe(128 * clamp);
    expect(tokens).toBeLessThanOrEqual(cap);

    const left = cap - tokens;
    expect(left - inputEstimate()).toBeLessThan(128);
    const err = await openai.chat.completions.create(ask(128)).then(() => expect.fail('expected a 429'), (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err.status).toBe(429);
    expect(err.code).toBe('budget_exhausted');
    expect(err.message).toMatch(/no room under its hard cap/);
  });

  it.each([0, 129, 1.5, '2'])('refuses n = %j with 400 invalid_request naming n, before the upstream', async (n) => {
    const { openai } = await client('campaign-writer', WRITER);
    const before = gw.upstream.requests.length;
    const err = await openai.chat.completions.create({ ...ask(1), n: n as number })
      .then(() => expect.fail('expected a 400'), (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(/n must be a whole number from 1 to 128/);
    expect(gw.upstream.requests.length).toBe(before);
  });
});
