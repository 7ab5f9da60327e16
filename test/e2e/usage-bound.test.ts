import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiToken, insertApiToken, type ApiRole } from '../../src/db/api-tokens.js';
import { startGateway, tagHeaders, PROMO, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * Issue 16, item 4: "Absurd usage is billed as reported". Usage 1e15/1e15 for a call forwarded with max_tokens 16
 * wrote a $10,000,000,000 row and put the use case at its hard cap for the month. What is billed is bounded by
 * what was possible (output: the forwarded limit × answers; input: a token per byte of the request plus an
 * allowance); a call over its bound is billed at the bound, flagged, and what the provider reported goes to the
 * review queue, never to the budget.
 */

const PROMPT = 'plan the regional split of the spring promotion';
const ALLOWANCE = 16_384; // TOLLGATE_BOUND_INPUT_ALLOWANCE's default

type Row = Record<string, unknown> & { flags: string[] | null };

const bytes = (params: object) => Buffer.byteLength(JSON.stringify(params));
const tokens = (row: Row) => ({ input: Number(row.input_tokens), cached: Number(row.cached_input_tokens), write: Number(row.cache_write_tokens), output: Number(row.output_tokens) });

describe('what a call can be billed at most', () => {
  let gw: Gateway;
  let writerKey: string;
  let promoKey: string;

  beforeAll(async () => {
    gw = await startGateway();
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
  });
  afterAll(async () => gw?.close());

  async function ledgerRow(requestId: string): Promise<Row> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await gw.flush();
      const row = (await gw.app.tollgate.db('usage_events').where({ request_id: requestId }).first()) as Row | undefined;
      if (row) return row;
      if (Date.now() > deadline) throw new Error(`no ledger row for ${requestId}`);
      await sleep(25);
    }
  }

  const review = async (requestId: string) => (await gw.app.tollgate.db('usage_review').where({ request_id: requestId }).first()) as Record<string, unknown> | undefined;

  async function chat(tags: Tags, usage: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    gw.upstream.script({ fault: 'usage', usage, path: '/v1/chat/completions' });
    const params = { model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user' as const, content: PROMPT }], ...extra };
    const { response } = await gw.openai(writerKey, tags).chat.completions.create(params).withResponse();
    return { params, requestId: response.headers.get('x-tollgate-request-id')! };
  }

  async function budgetSpent(useCase: string): Promise<string> {
    const row = (await gw.app.tollgate.db('budget_counters as c').join('budgets as b', 'b.id', 'c.budget_id')
      .where({ 'b.scope': 'use_case', 'b.scope_id': useCase }).first(gw.app.tollgate.db.raw('sum(c.spent)::numeric(38, 12)::text as spent'))) as { spent: string };
    return row.spent;
  }

  async function ledgerSpent(useCase: string): Promise<string> {
    const row = (await gw.app.tollgate.db('usage_events').where({ use_case_id: useCase }).first(gw.app.tollgate.db.raw('sum(cost)::numeric(38, 12)::text as spent'))) as { spent: string };
    return row.spent;
  }

  it('absurd usage is billed as reported: 1e11/1e11 for max_tokens 16 is billed at the bound, flagged, reported for review, and the use case stays open', async () => {
    const tags = { ...WRITER, session_id: 'sess-absurd' };
    const { params, requestId } = await chat(tags, { prompt_tokens: 1e11, completion_tokens: 1e11, prompt_tokens_details: { cached_tokens: 0 } });
    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['over_bound'] });
    expect(tokens(row)).toEqual({ input: bytes(params) + ALLOWANCE, cached: 0, write: 0, output: 16 });
    expect(Number(row.cost)).toBeLessThan(0.01);
    expect(await review(requestId)).toMatchObject({
      reason: 'over_bound', reported: { input_tokens: 1e11, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 1e11 },
      bound_input_tokens: bytes(params) + ALLOWANCE, bound_output_tokens: 16,
    });
    // $200,000 as reported (gpt-4.1-mini) would have put the $1,500 budget far past its hard cap.
    expect(Number((await review(requestId))!.reported_cost)).toBeCloseTo(200_000, 6);
    expect(await budgetSpent(WRITER.use_case)).toBe(await ledgerSpent(WRITER.use_case));
    const next = await gw.openai(writerKey, { ...WRITER, session_id: 'sess-after-absurd' }).chat.completions.create({ model: 'gpt-4.1-mini', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(next.response.headers.get('x-tollgate-budget-tier')).toBe('ok');
  });

  it('absurd usage is billed as reported: the issue\'s 1e15/1e15 is past any count believed, billed from the estimate and reported for review', async () => {
    const { params, requestId } = await chat({ ...WRITER, session_id: 'sess-1e15' }, { prompt_tokens: 1e15, completion_tokens: 1e15 });
    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({ flags: ['usage_invalid'], partial: false });
    expect(tokens(row)).toEqual({ input: promptTokens(params), cached: 0, write: 0, output: 0 });
    expect(await review(requestId)).toMatchObject({ reason: 'usage_invalid', reported: { prompt_tokens: 1e15, completion_tokens: 1e15 }, reported_cost: null, bound_output_tokens: 16 });
  });

  it('bounds output by the forwarded limit × n, and bills what fits as reported', async () => {
    const within = await chat({ ...WRITER, session_id: 'sess-n' }, { completion_tokens: 48 }, { n: 3 });
    expect(await ledgerRow(within.requestId)).toMatchObject({ flags: null, output_tokens: 48 });
    expect(await review(within.requestId)).toBeUndefined();
    const over = await chat({ ...WRITER, session_id: 'sess-n' }, { completion_tokens: 49 }, { n: 3 });
    expect(await ledgerRow(over.requestId)).toMatchObject({ flags: ['over_bound'], output_tokens: 48 });
  });

  it('scales input kinds down together to the bound, cache reads included', async () => {
    const { params, requestId } = await chat({ ...WRITER, session_id: 'sess-cache' }, { prompt_tokens: 4_000_000, prompt_tokens_details: { cached_tokens: 3_000_000 }, completion_tokens: 5 });
    const bound = bytes(params) + ALLOWANCE;
    const row = tokens(await ledgerRow(requestId));
    expect(row.input + row.cached).toBe(bound);
    expect(row.cached).toBe(Math.floor(3_000_000 * (bound / 4_000_000)));
    expect(row.output).toBe(5);
  });

  it('bounds a chunked body (no content-length) by its size too', async () => {
    const params = { model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'x'.repeat(30_000) }] };
    gw.upstream.script({ fault: 'usage', usage: { prompt_tokens: 30_000 }, path: '/v1/chat/completions' });
    const text = JSON.stringify(params);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < text.length; i += 4096) controller.enqueue(Buffer.from(text.slice(i, i + 4096)));
        controller.close();
      },
    });
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST', body, duplex: 'half',
      headers: { authorization: `Bearer ${writerKey}`, 'content-type': 'application/json', ...tagHeaders({ ...WRITER, session_id: 'sess-chunked' }) },
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(gw.upstream.requests.at(-1)!.headers['content-length']).toBeDefined(); // forwarded whole
    expect(await ledgerRow(res.headers.get('x-tollgate-request-id')!)).toMatchObject({ flags: null, input_tokens: 30_000 });
  });

  it('lets a body that references server-side state bill a whole context (previous_response_id)', async () => {
    const params = { model: 'gpt-4.1-mini', max_output_tokens: 16, input: PROMPT };
    gw.upstream.script([{ fault: 'usage', usage: { input_tokens: 900_000 }, path: '/v1/responses' }, { fault: 'usage', usage: { input_tokens: 900_000 }, path: '/v1/responses' }]);
    const stateless = await gw.openai(writerKey, WRITER).responses.create(params).withResponse();
    const stateful = await gw.openai(writerKey, WRITER).responses.create({ ...params, previous_response_id: 'resp_earlier' }).withResponse();
    const [a, b] = [stateless, stateful].map((r) => r.response.headers.get('x-tollgate-request-id')!);
    expect(await ledgerRow(a!)).toMatchObject({ flags: ['over_bound'], input_tokens: bytes(params) + ALLOWANCE });
    expect(await ledgerRow(b!)).toMatchObject({ flags: null, input_tokens: 900_000 });
  });

  it('bounds an Anthropic stream\'s output by its max_tokens', async () => {
    gw.upstream.script({ fault: 'usage', usage: { output_tokens: 1_000_000 }, path: '/v1/messages' });
    const { data, response } = await gw.anthropic(promoKey, PROMO).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: PROMPT }] }).withResponse();
    for await (const _event of data);
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ flags: ['over_bound'], output_tokens: 16 });
  });

  it('lists the review queue for finance and admin (GraphQL), not for a BU owner', async () => {
    const token = async (role: ApiRole, bu?: string) => {
      const t = generateApiToken();
      await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role, buId: bu });
      return t.token;
    };
    const query = '{ usageReview(filter: { reason: OVER_BOUND, bu: "marketing" }, first: 10) { requestId reason reported reportedCost billedCost boundOutputTokens flags model } }';
    const ask = async (t: string) => (await gw.app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${t}` }, payload: { query } })).json() as {
      data?: { usageReview: { reason: string; reportedCost: string | null; billedCost: string | null; flags: string[] }[] }; errors?: { extensions: { code: string } }[];
    };
    const finance = await ask(await token('finance'));
    expect(finance.data!.usageReview.length).toBeGreaterThanOrEqual(4);
    expect(finance.data!.usageReview.every((r) => r.reason === 'OVER_BOUND' && r.flags.includes('over_bound'))).toBe(true);
    expect(finance.data!.usageReview.some((r) => Number(r.reportedCost) > 1000 && Number(r.billedCost) < 0.01)).toBe(true);
    expect((await ask(await token('admin'))).data!.usageReview).toHaveLength(finance.data!.usageReview.length);
    expect((await ask(await token('bu-owner', 'marketing'))).errors![0]!.extensions.code).toBe('FORBIDDEN');
    expect((await ask(await token('council'))).errors![0]!.extensions.code).toBe('FORBIDDEN');
  });
});
