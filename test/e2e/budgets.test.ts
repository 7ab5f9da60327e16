import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { setBudget, startGateway, tagHeaders, FORECASTER, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal, seedPriceAt } from '../helpers/expect-cost.js';
import { budgetStatus, type BudgetUnit } from '../../src/db/budgets.js';
import type { NormalizedUsage } from '../../src/providers/types.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * policies/tollgate/config/data.json and the rules of budget.rego / caps.rego, restated so that the test does
 * not read the code under test. Ratios are tenths: notice 5/10, warning 8/10, soft cap 10/10, hard cap 11/10.
 */
const TIERS = [['hard_cap', 11n], ['soft_cap', 10n], ['warning', 8n], ['notice', 5n]] as const;
const HARD_CAP_TENTHS = 11n;
/** Tiers a walk passes through with allowed calls, in order; it ends with a denial, not at the hard-cap tier. */
const WALK = ['ok', 'notice', 'warning', 'soft_cap'];
/** Limit = this many full-price calls, so that no tier boundary falls exactly on a call (tiers at 20, 32, 40). */
const CALLS_PER_LIMIT = 39.7;
/** Every walk call asks for this many output tokens; the fake answers min(max_tokens, 20) words. */
const MAX_TOKENS = 30;
const MAX_STEPS = 120;

const INVENTORY: Tags = { bu: 'supply-chain', use_case: 'inventory-management', agent_id: 'inventory-optimizer', session_id: 'sess-inv-1' };

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => gw?.close());

/** Amounts in the budget's smallest exact unit: pico-dollars for usd, tokens for tokens. */
function exact(value: string, unit: BudgetUnit): bigint {
  const [i, f = ''] = value.split('.');
  if (unit === 'tokens') {
    expect(/^0*$/.test(f), `a whole number of tokens: ${value}`).toBe(true);
    return BigInt(i!);
  }
  const sign = i!.startsWith('-') ? -1n : 1n;
  return sign * (BigInt(i!.replace('-', '')) * 10n ** 12n + BigInt((f + '0'.repeat(12)).slice(0, 12)));
}

/** Price per token of `model` in the same unit (pico-dollars per token = $ per Mtok × 1e6). */
function perToken(model: string, unit: BudgetUnit): { input: bigint; output: bigint } {
  if (unit === 'tokens') return { input: 1n, output: 1n };
  const p = seedPriceAt(model, new Date());
  return { input: exact(p.input_per_mtok, 'usd') / 10n ** 6n, output: exact(p.output_per_mtok, 'usd') / 10n ** 6n };
}

function tierOf(used: bigint, limit: bigint): string {
  return TIERS.find(([, tenths]) => used * 10n >= limit * tenths)?.[0] ?? 'ok';
}

/** What the policy must answer for one call, from the spend before it (no reservation in flight). */
type Expected = { tier: string; clamp: number | null; denied: 'hard_cap' | 'no_room' | null };

function expectedOutcome(spent: bigint, limit: bigint, promptEstimate: number, price: { input: bigint; output: bigint }): Expected {
  const tier = tierOf(spent, limit);
  if (tier === 'hard_cap') return { tier, clamp: null, denied: 'hard_cap' };
  const remaining = (limit * HARD_CAP_TENTHS) / 10n - spent;
  const input = BigInt(promptEstimate) * price.input;
  const worst = input + BigInt(MAX_TOKENS) * price.output;
  if (worst <= remaining) return { tier, clamp: null, denied: null };
  const diff = remaining - input;
  // floor, also for a negative difference
  const room = diff >= 0n ? diff / price.output : -((-diff + price.output - 1n) / price.output);
  // A budget with no room left for the call has reached its hard cap for that call, even below 110%.
  return room < 1n ? { tier: 'hard_cap', clamp: null, denied: 'no_room' } : { tier, clamp: Number(room), denied: null };
}

/** The use case's spend this period as the ledger has it, exactly, in the budget's unit. */
async function ledgerSpend(useCase: string, unit: BudgetUnit): Promise<bigint> {
  await gw.flush();
  const row = (await gw.app.tollgate.db('usage_events').where('use_case_id', useCase).first(
    gw.app.tollgate.db.raw('coalesce(sum(cost), 0)::text as cost'),
    gw.app.tollgate.db.raw('coalesce(sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens), 0)::text as tokens'),
  )) as { cost: string; tokens: string };
  return exact(unit === 'tokens' ? row.tokens : row.cost, unit);
}

/** The use case budget's counters this period (after a flush). */
async function useCaseCounters(useCase: string) {
  await gw.flush();
  const status = (await budgetStatus(gw.app.tollgate.db, new Date())).find((b) => b.scope === 'use_case' && b.scope_id === useCase);
  expect(status, `budget of ${useCase}`).toBeDefined();
  return status!;
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

/** Sets the limit; the gateway applies it before the next call, as after a change made by the CLI or GraphQL. */
async function setLimit(useCase: string, limit: string, unit: BudgetUnit) {
  await setBudget(gw, { scope: 'use_case', scopeId: useCase, limit, unit, period: 'month' });
}

function tokensOf(row: Record<string, unknown>): NormalizedUsage {
  return {
    input_tokens: Number(row.input_tokens), cached_input_tokens: Number(row.cached_input_tokens),
    cache_write_tokens: Number(row.cache_write_tokens), output_tokens: Number(row.output_tokens),
  };
}

/** Every HTTP exchange a client made: the gateway's prompt estimate of its body (src/gateway/estimate.ts) and the response. */
type Exchange = { prompt: number; response: Response };

/** A fetch that records what went through it. */
function countingFetch(into: Exchange[]): typeof fetch {
  return async (input, init) => {
    const prompt = typeof init?.body === 'string' ? promptTokens(JSON.parse(init.body) as object) : 0;
    const response = await fetch(input, init);
    into.push({ prompt, response });
    return response;
  };
}

/** One call's result as the client saw it: the one response, and the served model from the body (when allowed). */
type Outcome = { response: Response; prompt: number; bodyModel?: string; error?: unknown };

/** One SDK, one agent, one use case. Every call goes through a client that would retry twice, counting its requests. */
type Driver = {
  tags: Tags;
  agent: string;
  requested: string;
  cheaper: string;
  /** The name of the output-limit field in the upstream body. */
  maxField: string;
  call(key: string, stream: boolean): Promise<Outcome>;
  errorCode(err: unknown): string | undefined;
  ErrorClass: new (...args: never[]) => Error;
};

const PROMPT = 'plan next week: [cache] restock the spring promotion aisles';

/** Runs one SDK call through a counting, retrying fetch; asserts it made exactly one HTTP request. */
async function once(run: (f: typeof fetch) => Promise<string | undefined>): Promise<Outcome> {
  const exchanges: Exchange[] = [];
  let bodyModel: string | undefined;
  let error: unknown;
  try {
    bodyModel = await run(countingFetch(exchanges));
  } catch (err) {
    error = err;
  }
  expect(exchanges, 'HTTP requests for one SDK call (maxRetries 2)').toHaveLength(1);
  return { ...exchanges[0]!, bodyModel, error };
}

function anthropicDriver(tags: Tags, agent: string): Driver {
  const params = { model: 'claude-sonnet-4-5', max_tokens: MAX_TOKENS, messages: [{ role: 'user' as const, content: PROMPT }] };
  return {
    tags, agent, requested: 'claude-sonnet-4-5', cheaper: 'claude-haiku-4-5', maxField: 'max_tokens',
    call: (key, stream) => once(async (f) => {
      const client = new Anthropic({ apiKey: key, baseURL: `${gw.url}/anthropic`, maxRetries: 2, defaultHeaders: tagHeaders(tags), fetch: f });
      if (!stream) return (await client.messages.create(params)).model;
      let model = '';
      for await (const ev of await client.messages.create({ ...params, stream: true })) if (ev.type === 'message_start') model = ev.message.model;
      return model;
    }),
    errorCode: (err) => ((err as InstanceType<typeof Anthropic.APIError>).error as { error?: { code?: string } } | undefined)?.error?.code,
    ErrorClass: Anthropic.APIError,
  };
}

function openaiDriver(tags: Tags, agent: string): Driver {
  const params = { model: 'gpt-4.1', max_tokens: MAX_TOKENS, messages: [{ role: 'user' as const, content: PROMPT }] };
  return {
    tags, agent, requested: 'gpt-4.1', cheaper: 'gpt-4.1-mini', maxField: 'max_tokens',
    call: (key, stream) => once(async (f) => {
      const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 2, defaultHeaders: tagHeaders(tags), fetch: f });
      if (!stream) return (await client.chat.completions.create(params)).model;
      let model = '';
      for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) model ||= chunk.model;
      return model;
    }),
    errorCode: (err) => (err as InstanceType<typeof OpenAI.APIError>).code ?? undefined,
    ErrorClass: OpenAI.APIError,
  };
}

function expectAllowed(d: Driver, out: Outcome, label: string) {
  if (out.error) throw new Error(`${label}: expected the call to pass, got ${String(out.error)}`);
  expect(out.response.status, label).toBe(200);
}

/** What served a soft-cap call, from the client's side, the upstream's and the ledger's. */
async function expectDowngraded(d: Driver, out: Outcome, unit: BudgetUnit) {
  expect(out.response.headers.get('x-tollgate-model-served')).toBe(d.cheaper);
  expect(out.response.headers.get('x-tollgate-model-requested')).toBe(d.requested);
  expect(out.bodyModel).toBe(d.cheaper);
  expect((gw.upstream.requests.at(-1)!.body as { model: string }).model).toBe(d.cheaper);
  const row = await ledgerRow(out.response.headers.get('x-tollgate-request-id')!);
  const usage = tokensOf(row);
  expect(usage).toEqual(gw.upstream.usageLog.at(-1)!.usage);
  expect(row).toMatchObject({ model_requested: d.requested, model_served: d.cheaper, budget_tier: 'soft_cap', decision_code: 'ok', status: 200 });
  const cost = normalizeDecimal(row.cost as string);
  expect(cost).toBe(expectedCost(usage, d.cheaper));
  expect(cost).not.toBe(expectedCost(usage, d.requested));
  if (unit === 'usd') expect(Number(cost)).toBeGreaterThan(0);
}

/** A denial: one 429 budget_exhausted the SDK did not retry, nothing upstream or in the ledger, a decision log row. */
async function expectBudgetDenial(d: Driver, out: Outcome, expected: Expected, upstreamBefore: number, rowsBefore: number) {
  expect(out.error).toBeInstanceOf(d.ErrorClass);
  expect((out.error as { status: number }).status).toBe(429);
  expect(d.errorCode(out.error)).toBe('budget_exhausted');
  expect((out.error as Error).message).toContain(expected.denied === 'no_room' ? 'has no room under its hard cap' : 'is at its hard cap');
  expect((out.error as Error).message).toContain(`use_case ${d.tags.use_case}`);
  expect(out.response.headers.get('x-should-retry')).toBe('false');
  expect(out.response.headers.get('x-tollgate-budget-tier')).toBe(expected.tier);
  expect(out.response.headers.get('x-tollgate-output-clamped')).toBeNull();
  expect(gw.upstream.requests.length).toBe(upstreamBefore);
  expect((await usageRows(d.tags.use_case)).length).toBe(rowsBefore);
  const denial = await gw.app.tollgate.db('decision_log').where('request_id', out.response.headers.get('x-tollgate-request-id')!);
  expect(denial).toMatchObject([{ allowed: false, code: 'budget_exhausted', http_status: 429, budget_tier: expected.tier }]);
}

/**
 * Sets the limit to ~40 full-price calls and makes sequential calls (a flush after each, so no reservation is
 * left behind) until one is denied. Before each call the outcome is computed from the ledger: the tier from
 * spent / limit; the clamp when the worst case (the gateway's prompt estimate, plus max_tokens, at the
 * requested model's price) would pass 110% of the limit; the denial when not one output token fits.
 */
async function walkToDenial(d: Driver, unit: BudgetUnit): Promise<{ key: string; limit: bigint; clamped: number[] }> {
  const key = await gw.key(d.agent);
  const useCase = d.tags.use_case;
  const price = perToken(d.requested, unit);
  // One call at the seeded (large) budget prices a step.
  const before = await ledgerSpend(useCase, unit);
  const first = await d.call(key, false);
  expectAllowed(d, first, 'first call');
  expect(first.response.headers.get('x-tollgate-budget-tier')).toBe('ok');
  const step = (await ledgerSpend(useCase, unit)) - before;
  expect(step).toBeGreaterThan(0n);
  const limitText = unit === 'tokens' ? String(Math.round(Number(step) * CALLS_PER_LIMIT)) : (Number(step) * CALLS_PER_LIMIT / 1e12).toFixed(12);
  const limit = exact(limitText, unit);
  await setLimit(useCase, limitText, unit);

  const seen: string[] = [];
  const clamped: number[] = [];
  let softCapCalls = 0;
  for (let i = 0; i < MAX_STEPS; i++) {
    const spent = await ledgerSpend(useCase, unit);
    const counters = await useCaseCounters(useCase);
    expect(Number(counters.reserved), `reserved before call ${i}`).toBe(0);
    expect(exact(String(counters.spent), unit), `counters match the ledger before call ${i}`).toBe(spent);
    const upstreamBefore = gw.upstream.requests.length;
    const rowsBefore = (await usageRows(useCase)).length;

    const stream = tierOf(spent, limit) === 'soft_cap' && softCapCalls++ % 2 === 1;
    const out = await d.call(key, stream);
    const expected = expectedOutcome(spent, limit, out.prompt, price);
    const label = `call ${i} at ${spent}/${limit} (${JSON.stringify(expected)})`;
    expect(out.response.headers.get('x-tollgate-budget-tier'), label).toBe(expected.tier);
    if (expected.denied) {
      await expectBudgetDenial(d, out, expected, upstreamBefore, rowsBefore);
      break;
    }
    expectAllowed(d, out, label);
    if (seen.at(-1) !== expected.tier) seen.push(expected.tier);

    const header = out.response.headers.get('x-tollgate-output-clamped');
    const upstreamBody = gw.upstream.requests.at(-1)!.body as Record<string, unknown>;
    if (expected.clamp === null) {
      expect(header, label).toBeNull();
      expect(upstreamBody[d.maxField], label).toBe(MAX_TOKENS);
    } else {
      // Exact integers here, floats in the policy: a floor may land one apart at an exact boundary.
      expect(Math.abs(Number(header) - expected.clamp), `${label}: clamp header ${header}`).toBeLessThanOrEqual(1);
      expect(Number(header)).toBeGreaterThanOrEqual(1);
      expect(Number(header)).toBeLessThan(MAX_TOKENS);
      expect(upstreamBody[d.maxField], label).toBe(Number(header));
      clamped.push(Number(header));
    }
    if (expected.tier === 'soft_cap') {
      await expectDowngraded(d, out, unit);
    } else {
      expect(out.response.headers.get('x-tollgate-model-served')).toBe(d.requested);
      expect(out.bodyModel).toBe(d.requested);
      expect(upstreamBody.model).toBe(d.requested);
    }
    expect(i, 'the walk ends with a denial').toBeLessThan(MAX_STEPS - 1);
  }
  expect(seen).toEqual(WALK);
  expect(clamped.length, 'calls clamped before the denial').toBeGreaterThan(0);
  // Nothing admitted passed the hard cap, and the denial left no reservation behind.
  expect((await ledgerSpend(useCase, unit)) * 10n).toBeLessThanOrEqual(limit * HARD_CAP_TENTHS);
  const counters = await waitForReleased(useCase);
  expect(exact(String(counters.spent), unit)).toBe(await ledgerSpend(useCase, unit));
  return { key, limit, clamped };
}

/** The denied call's reservation is given back without waiting for it (fire and forget): bounded polling. */
async function waitForReleased(useCase: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const counters = await useCaseCounters(useCase);
    if (Number(counters.reserved) === 0) return counters;
    if (Date.now() > deadline) throw new Error(`reservation of ${useCase} still held: ${counters.reserved}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('budget tiers through the SDKs', () => {
  it('walks an Anthropic use case (USD) from ok to the soft cap, serving Haiku for Sonnet, clamping, then denying', async () => {
    await walkToDenial(anthropicDriver(FORECASTER, 'demand-forecaster'), 'usd');
  });

  it('walks an OpenAI use case (USD) the same way, serving gpt-4.1-mini for gpt-4.1', async () => {
    await walkToDenial(openaiDriver(WRITER, 'campaign-writer'), 'usd');
  });

  it('walks a token budget the same way, counting tokens rather than dollars', async () => {
    const d = openaiDriver(INVENTORY, 'inventory-optimizer');
    await walkToDenial(d, 'tokens');
    const status = await useCaseCounters(INVENTORY.use_case);
    expect(status).toMatchObject({ unit: 'tokens' });
    expect(exact(String(status.spent), 'tokens')).toBe(await ledgerSpend(INVENTORY.use_case, 'tokens'));
  });

  it('lets the next call through once the limit is raised: every reservation reads the limit live', async () => {
    const d = anthropicDriver(FORECASTER, 'demand-forecaster');
    const key = await gw.key(d.agent);
    const spent = Number(await ledgerSpend(d.tags.use_case, 'usd')) / 1e12;
    // 120% of the limit: at the hard cap, whatever the call.
    await setLimit(d.tags.use_case, (spent / 1.2).toFixed(12), 'usd');
    const upstreamBefore = gw.upstream.requests.length;
    const rowsBefore = (await usageRows(d.tags.use_case)).length;
    const denied = await d.call(key, false);
    await expectBudgetDenial(d, denied, { tier: 'hard_cap', clamp: null, denied: 'hard_cap' }, upstreamBefore, rowsBefore);

    await setLimit(d.tags.use_case, (spent * 100).toFixed(12), 'usd');
    const served = await d.call(key, false);
    expectAllowed(d, served, 'the first call after the raise');
    expect(served.response.headers.get('x-tollgate-budget-tier')).toBe('ok');
    expect(served.response.headers.get('x-tollgate-model-served')).toBe(d.requested);
    expect(served.response.headers.get('x-tollgate-output-clamped')).toBeNull();
    const row = await ledgerRow(served.response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ model_served: d.requested, budget_tier: 'ok', status: 200 });
  });
});
