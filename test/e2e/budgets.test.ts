import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, tagHeaders, FORECASTER, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { upsertBudget, type BudgetUnit } from '../../src/db/budgets.js';
import type { NormalizedUsage } from '../../src/providers/types.js';

/** policies/tollgate/config/data.json, restated so that the test does not read the code under test. */
const TIERS = [['hard_cap', 1.1], ['soft_cap', 1.0], ['warning', 0.8], ['notice', 0.5]] as const;
const WALK = ['ok', 'notice', 'warning', 'soft_cap', 'hard_cap'];
/** Limit = this many calls' worth, so that no tier boundary falls exactly on a call. */
const CALLS_PER_LIMIT = 9.9;
const MAX_STEPS = 40;

const INVENTORY: Tags = { bu: 'supply-chain', use_case: 'inventory-management', agent_id: 'inventory-optimizer', session_id: 'sess-inv-1' };

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => gw?.close());

function tierOf(spent: number, limit: number): string {
  const ratio = spent / limit;
  return TIERS.find(([, at]) => ratio >= at)?.[0] ?? 'ok';
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The use case's spend this period as the ledger has it, in the budget's unit. */
async function ledgerSpend(useCase: string, unit: BudgetUnit): Promise<number> {
  await gw.flush();
  const row = (await gw.app.tollgate.db('usage_events').where('use_case_id', useCase).first(
    gw.app.tollgate.db.raw('coalesce(sum(cost), 0)::text as cost'),
    gw.app.tollgate.db.raw('coalesce(sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens), 0)::text as tokens'),
  )) as { cost: string; tokens: string };
  return Number(unit === 'tokens' ? row.tokens : row.cost);
}

async function usageRows(useCase: string) {
  await gw.flush();
  return gw.app.tollgate.db('usage_events').where('use_case_id', useCase);
}

async function ledgerRow(requestId: string) {
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId);
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

/** Sets the limit and waits until the gateway decides on it (the book refreshes every 100 ms in tests). */
async function setLimit(useCase: string, limit: string, unit: BudgetUnit) {
  await upsertBudget(gw.app.tollgate.db, { useCaseId: useCase, limit, unit, period: 'month' });
  await waitFor(`limit ${limit} on ${useCase}`, () => {
    const fact = gw.app.tollgate.budgets.fact(useCase, new Date());
    return fact?.available && fact.limit === Number(limit) ? true : undefined;
  });
}

function tokensOf(row: Record<string, unknown>): NormalizedUsage {
  return {
    input_tokens: Number(row.input_tokens), cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens), output_tokens: Number(row.output_tokens),
  };
}

type Served = { response: Response; bodyModel: string };

/** One SDK, one agent, one use case: how to make a call, and how to make one with a counting, retrying client. */
type Driver = {
  tags: Tags;
  agent: string;
  requested: string;
  cheaper: string;
  call(key: string, stream: boolean): Promise<Served>;
  countingClientCall(key: string, fetchImpl: typeof fetch): Promise<unknown>;
  errorCode(err: unknown): string | undefined;
  ErrorClass: new (...args: never[]) => Error;
};

const PROMPT = 'plan next week: [cache] restock the spring promotion aisles';

function anthropicDriver(tags: Tags, agent: string): Driver {
  const params = { model: 'claude-sonnet-4-5', max_tokens: 12, messages: [{ role: 'user' as const, content: PROMPT }] };
  return {
    tags, agent, requested: 'claude-sonnet-4-5', cheaper: 'claude-haiku-4-5',
    async call(key, stream) {
      const client = gw.anthropic(key, tags);
      if (!stream) {
        const { data, response } = await client.messages.create(params).withResponse();
        return { response, bodyModel: data.model };
      }
      const { data, response } = await client.messages.create({ ...params, stream: true }).withResponse();
      let model = '';
      for await (const ev of data) if (ev.type === 'message_start') model = ev.message.model;
      return { response, bodyModel: model };
    },
    countingClientCall(key, fetchImpl) {
      const client = new Anthropic({ apiKey: key, baseURL: `${gw.url}/anthropic`, maxRetries: 2, defaultHeaders: tagHeaders(tags), fetch: fetchImpl });
      return client.messages.create(params);
    },
    errorCode: (err) => ((err as InstanceType<typeof Anthropic.APIError>).error as { error?: { code?: string } } | undefined)?.error?.code,
    ErrorClass: Anthropic.APIError,
  };
}

function openaiDriver(tags: Tags, agent: string): Driver {
  const params = { model: 'gpt-4.1', max_tokens: 12, messages: [{ role: 'user' as const, content: PROMPT }] };
  return {
    tags, agent, requested: 'gpt-4.1', cheaper: 'gpt-4.1-mini',
    async call(key, stream) {
      const client = gw.openai(key, tags);
      if (!stream) {
        const { data, response } = await client.chat.completions.create(params).withResponse();
        return { response, bodyModel: data.model };
      }
      const { data, response } = await client.chat.completions.create({ ...params, stream: true }).withResponse();
      let model = '';
      for await (const chunk of data) model ||= chunk.model;
      return { response, bodyModel: model };
    },
    countingClientCall(key, fetchImpl) {
      const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 2, defaultHeaders: tagHeaders(tags), fetch: fetchImpl });
      return client.chat.completions.create(params);
    },
    errorCode: (err) => (err as InstanceType<typeof OpenAI.APIError>).code ?? undefined,
    ErrorClass: OpenAI.APIError,
  };
}

/** What served a soft-cap call, from the client's side, the upstream's and the ledger's. */
async function expectDowngraded(d: Driver, served: Served, unit: BudgetUnit) {
  expect(served.response.headers.get('x-tollgate-model-served')).toBe(d.cheaper);
  expect(served.response.headers.get('x-tollgate-model-requested')).toBe(d.requested);
  expect(served.bodyModel).toBe(d.cheaper);
  expect((gw.upstream.requests.at(-1)!.body as { model: string }).model).toBe(d.cheaper);
  const row = await ledgerRow(served.response.headers.get('x-tollgate-request-id')!);
  const usage = tokensOf(row);
  expect(usage).toEqual(gw.upstream.usageLog.at(-1)!.usage);
  expect(row).toMatchObject({ model_requested: d.requested, model_served: d.cheaper, budget_tier: 'soft_cap', decision_code: 'ok', status: 200 });
  const cost = normalizeDecimal(row.cost as string);
  expect(cost).toBe(expectedCost(usage, d.cheaper));
  expect(cost).not.toBe(expectedCost(usage, d.requested));
  if (unit === 'usd') expect(Number(cost)).toBeGreaterThan(0);
}

/** At the hard cap: one 429 budget_exhausted, not retried by an SDK that would retry, nothing upstream or in the ledger. */
async function expectHardCap(d: Driver, key: string) {
  const upstreamBefore = gw.upstream.requests.length;
  const rowsBefore = (await usageRows(d.tags.use_case)).length;
  const responses: Response[] = [];
  const counting: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    responses.push(res);
    return res;
  };
  const err = await d.countingClientCall(key, counting).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(d.ErrorClass);
  expect((err as { status: number }).status).toBe(429);
  expect(d.errorCode(err)).toBe('budget_exhausted');
  expect(responses).toHaveLength(1);
  const res = responses[0]!;
  expect(res.headers.get('x-should-retry')).toBe('false');
  expect(res.headers.get('x-tollgate-budget-tier')).toBe('hard_cap');
  expect(gw.upstream.requests.length).toBe(upstreamBefore);
  expect((await usageRows(d.tags.use_case)).length).toBe(rowsBefore);
  const denial = await gw.app.tollgate.db('decision_log').where('request_id', res.headers.get('x-tollgate-request-id')!);
  expect(denial).toMatchObject([{ allowed: false, code: 'budget_exhausted', http_status: 429, budget_tier: 'hard_cap' }]);
}

/**
 * Makes calls until the hard cap, asserting before each that the tier the gateway reports is the one the
 * ledger's spend so far implies, and that the walk passes every tier in order.
 */
async function walkToHardCap(d: Driver, unit: BudgetUnit): Promise<string> {
  const key = await gw.key(d.agent);
  const useCase = d.tags.use_case;
  // One call at the seeded (large) budget prices a step; the limit is then set to ~9.9 steps.
  const first = await d.call(key, false);
  expect(first.response.headers.get('x-tollgate-budget-tier')).toBe('ok');
  const step = await ledgerSpend(useCase, unit);
  expect(step).toBeGreaterThan(0);
  const limit = unit === 'tokens' ? String(Math.round(step * CALLS_PER_LIMIT)) : (step * CALLS_PER_LIMIT).toFixed(12);
  await setLimit(useCase, limit, unit);

  const seen: string[] = [];
  let softCapCalls = 0;
  for (let i = 0; i < MAX_STEPS; i++) {
    const expected = tierOf(await ledgerSpend(useCase, unit), Number(limit));
    if (seen.at(-1) !== expected) seen.push(expected);
    if (expected === 'hard_cap') {
      await expectHardCap(d, key);
      break;
    }
    const stream = expected === 'soft_cap' && softCapCalls++ % 2 === 1;
    const served = await d.call(key, stream);
    expect(served.response.headers.get('x-tollgate-budget-tier'), `call ${i}`).toBe(expected);
    if (expected === 'soft_cap') {
      await expectDowngraded(d, served, unit);
    } else {
      expect(served.response.headers.get('x-tollgate-model-served')).toBe(d.requested);
      expect(served.bodyModel).toBe(d.requested);
    }
  }
  expect(seen).toEqual(WALK);
  return key;
}

describe('budget tiers through the SDKs', () => {
  it('walks an Anthropic use case (USD) from ok to the hard cap, serving Haiku for Sonnet at the soft cap', async () => {
    await walkToHardCap(anthropicDriver(FORECASTER, 'demand-forecaster'), 'usd');
  });

  it('walks an OpenAI use case (USD) from ok to the hard cap, serving gpt-4.1-mini for gpt-4.1 at the soft cap', async () => {
    await walkToHardCap(openaiDriver(WRITER, 'campaign-writer'), 'usd');
  });

  it('walks a token budget the same way, counting tokens rather than dollars', async () => {
    const d = openaiDriver(INVENTORY, 'inventory-optimizer');
    await walkToHardCap(d, 'tokens');
    const fact = gw.app.tollgate.budgets.fact(INVENTORY.use_case, new Date());
    expect(fact).toMatchObject({ unit: 'tokens', spent: await ledgerSpend(INVENTORY.use_case, 'tokens') });
  });

  it('lets calls through again once the limit is raised', async () => {
    const d = anthropicDriver(FORECASTER, 'demand-forecaster');
    const key = await gw.key(d.agent);
    // The first test left this use case at its hard cap.
    const spent = await ledgerSpend(d.tags.use_case, 'usd');
    await upsertBudget(gw.app.tollgate.db, { useCaseId: d.tags.use_case, limit: (spent / 1.2).toFixed(12), unit: 'usd', period: 'month' });
    await waitFor('the hard cap', () => d.call(key, false).then(() => undefined, (err: unknown) => (d.errorCode(err) === 'budget_exhausted' ? true : undefined)));

    await upsertBudget(gw.app.tollgate.db, { useCaseId: d.tags.use_case, limit: (spent * 100).toFixed(12), unit: 'usd', period: 'month' });
    const served = await waitFor('a call to pass after the limit was raised', () =>
      d.call(key, false).catch((err: unknown) => {
        if (d.errorCode(err) === 'budget_exhausted') return undefined;
        throw err;
      }));
    expect(served.response.headers.get('x-tollgate-budget-tier')).toBe('ok');
    expect(served.response.headers.get('x-tollgate-model-served')).toBe(d.requested);
    const row = await ledgerRow(served.response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ model_served: d.requested, budget_tier: 'ok', status: 200 });
  });
});
