import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { setBudget, startGateway, tagHeaders, FORECASTER, PROMO, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { seedPriceAt } from '../helpers/expect-cost.js';
import { type BudgetInput } from '../../src/db/budgets.js';
import { writeBatch } from '../../src/db/ledger.js';
import type { UsageEvent } from '../../src/metering/types.js';
import { promptTokens } from '../../src/gateway/estimate.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXPERIENCE: Tags = { bu: 'marketing', use_case: 'experience-management', agent_id: 'campaign-writer', session_id: 'sess-cx-1' };
const INVENTORY: Tags = { bu: 'supply-chain', use_case: 'inventory-management', agent_id: 'inventory-optimizer', session_id: 'sess-inv-1' };
const UNDERWRITING: Tags = { bu: 'insurance', use_case: 'underwriting-assist', agent_id: 'quote-assistant', session_id: 'sess-uw-1' };
const PROMPT = 'summarise the week: [cache] what moved, what did not';

let gw: Gateway;
const keys = new Map<string, string>();

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => gw?.close());

async function keyOf(g: Gateway, agent: string): Promise<string> {
  const id = `${g.url}/${agent}`;
  if (!keys.has(id)) keys.set(id, await g.key(agent));
  return keys.get(id)!;
}

/** One SDK call as the client saw it: its one HTTP exchange (the SDK would retry twice), the gateway's prompt estimate of it, error. */
type Outcome = { response: Response; prompt: number; error?: unknown; bodyModel?: string };

/** maxRetries defaults to 2, to show a denial is not retried; 5xx answers are retryable, so those calls use 0. */
type CallOpts = { sdk: 'openai' | 'anthropic'; tags: Tags; model: string; maxTokens?: number; stream?: boolean; g?: Gateway; maxRetries?: number };

async function call(o: CallOpts): Promise<Outcome> {
  const g = o.g ?? gw;
  const key = await keyOf(g, o.tags.agent_id);
  const exchanges: { prompt: number; response: Response }[] = [];
  const counting: typeof fetch = async (input, init) => {
    const prompt = typeof init?.body === 'string' ? promptTokens(JSON.parse(init.body) as object) : 0;
    const response = await fetch(input, init);
    exchanges.push({ prompt, response });
    return response;
  };
  let error: unknown;
  let bodyModel: string | undefined;
  try {
    if (o.sdk === 'openai') {
      const client = new OpenAI({ apiKey: key, baseURL: `${g.url}/openai/v1`, maxRetries: o.maxRetries ?? 2, defaultHeaders: tagHeaders(o.tags), fetch: counting });
      const params = { model: o.model, messages: [{ role: 'user' as const, content: PROMPT }], ...(o.maxTokens === undefined ? {} : { max_tokens: o.maxTokens }) };
      if (o.stream) {
        for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) bodyModel ||= chunk.model;
      } else {
        bodyModel = (await client.chat.completions.create(params)).model;
      }
    } else {
      const client = new Anthropic({ apiKey: key, baseURL: `${g.url}/anthropic`, maxRetries: o.maxRetries ?? 2, defaultHeaders: tagHeaders(o.tags), fetch: counting });
      const params = { model: o.model, max_tokens: o.maxTokens ?? 30, messages: [{ role: 'user' as const, content: PROMPT }] };
      if (o.stream) {
        for await (const ev of await client.messages.create({ ...params, stream: true })) if (ev.type === 'message_start') bodyModel = ev.message.model;
      } else {
        bodyModel = (await client.messages.create(params)).model;
      }
    }
  } catch (err) {
    error = err;
  }
  expect(exchanges, 'HTTP requests for one SDK call').toHaveLength(1);
  return { ...exchanges[0]!, error, bodyModel };
}

function errorCode(err: unknown): string | undefined {
  if (err instanceof OpenAI.APIError) return err.code ?? undefined;
  if (err instanceof Anthropic.APIError) return (err.error as { error?: { code?: string } } | undefined)?.error?.code;
  return undefined;
}

function expectPassed(out: Outcome, label = 'call') {
  if (out.error) throw new Error(`${label}: expected to pass, got ${String(out.error)}`);
  expect(out.response.status).toBe(200);
}

function expectDenied(out: Outcome, status: number, code: string, message?: string) {
  expect(out.error, `expected ${code}`).toBeDefined();
  expect((out.error as { status: number }).status).toBe(status);
  expect(errorCode(out.error)).toBe(code);
  expect(out.response.headers.get('x-tollgate-error-code')).toBe(code);
  if (message) expect((out.error as Error).message).toContain(message);
}

const tier = (out: Outcome) => out.response.headers.get('x-tollgate-budget-tier');
const requestId = (out: Outcome) => out.response.headers.get('x-tollgate-request-id')!;

/** A usage event written straight to the ledger (as a replayed journal would), dated `ts`. */
function usageEvent(tags: Tags, ts: Date, cost: string, tokens = 10): UsageEvent {
  return {
    kind: 'usage', request_id: `prime-${crypto.randomUUID()}`, ts: ts.toISOString(), bu_id: tags.bu, use_case_id: tags.use_case,
    agent_id: tags.agent_id, session_id: tags.session_id, parent_request_id: null, provider: 'openai', endpoint: '/chat/completions',
    model_requested: 'gpt-4.1-mini', model_served: 'gpt-4.1-mini', input_tokens: tokens, cached_input_tokens: 0, cache_write_tokens: 0,
    output_tokens: 0, cost, currency: 'USD', price_id: null, status: 200, partial: false, latency_ms: 1, decision_code: 'ok',
    policy_revision: 'test', budget_tier: 'ok',
  };
}

/** Sets a budget as the CLI and GraphQL do (see setBudget); returns its id. */
async function budget(b: BudgetInput, g: Gateway = gw): Promise<number> {
  return (await setBudget(g, b)).id;
}

type CounterRow = { period_start: Date; key: string; spent: string; reserved: string; calls: number };

/** Every counter row of a budget (all periods, all sessions), after a flush. */
async function counters(budgetId: number, g: Gateway = gw): Promise<CounterRow[]> {
  await g.flush();
  const rows = (await g.app.tollgate.db('budget_counters').where('budget_id', budgetId).orderBy(['period_start', 'key'])) as CounterRow[];
  return rows.map((r) => ({ period_start: new Date(r.period_start), key: r.key, spent: String(r.spent), reserved: String(r.reserved), calls: Number(r.calls) }));
}

async function counter(budgetId: number, key = '', g: Gateway = gw): Promise<CounterRow> {
  const rows = (await counters(budgetId, g)).filter((r) => r.key === key);
  const current = rows.at(-1);
  expect(current, `counter of budget ${budgetId}/${key}`).toBeDefined();
  return current!;
}

async function budgetId(scope: string, scopeId: string, g: Gateway = gw): Promise<number> {
  const row = (await g.app.tollgate.db('budgets').where({ scope, scope_id: scopeId }).first()) as { id: number } | undefined;
  expect(row, `budget ${scope}/${scopeId}`).toBeDefined();
  return row!.id;
}

/** The exact sum of the ledger's cost over some request ids, in pico-dollars. */
async function ledgerCost(ids: string[], g: Gateway = gw): Promise<bigint> {
  await g.flush();
  const row = (await g.app.tollgate.db('usage_events').whereIn('request_id', ids).first(g.app.tollgate.db.raw('coalesce(sum(cost), 0)::text as cost'), g.app.tollgate.db.raw('count(*)::int as n'))) as { cost: string; n: number };
  expect(row.n).toBe(ids.length);
  return pico(row.cost);
}

function pico(value: string): bigint {
  const [i, f = ''] = value.split('.');
  return BigInt(i!) * 10n ** 12n + BigInt((f + '0'.repeat(12)).slice(0, 12));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits (bounded) until a budget's counter holds no reservation, then returns it. */
/**
 * The counter once every call's hold is given back: reservations by the ledger writer (or a denial), and the
 * gateway's lease of the budget's room when it gives it back (it would at its next settlement, once idle).
 */
async function released(id: number, key = '', g: Gateway = gw): Promise<CounterRow> {
  return waitFor(`budget ${id} to hold no reservation`, async () => {
    await g.flush();
    await g.app.tollgate.budgetGate.giveBack();
    const c = await counter(id, key, g);
    return Number(c.reserved) === 0 ? c : undefined;
  });
}

describe('the tightest budget wins across scopes', () => {
  it('a tight BU budget decides tiers and the 429 for two use cases of the BU; other BUs are untouched', async () => {
    // $1 of marketing spend this month (another use case), so that a call barely moves the ratio.
    await writeBatch(gw.app.tollgate.db, [usageEvent({ ...EXPERIENCE, session_id: 'prime-bu' }, new Date(), '1')]);
    const bu = await budget({ scope: 'bu', scopeId: 'marketing', limit: '4500', unit: 'usd', period: 'month' });
    const spent = async () => Number((await counter(bu)).spent);
    try {
      await budget({ scope: 'bu', scopeId: 'marketing', limit: ((await spent()) / 0.6).toFixed(12), unit: 'usd', period: 'month' });
      const promo = await call({ sdk: 'anthropic', tags: PROMO, model: 'claude-haiku-4-5' });
      expectPassed(promo);
      expect(tier(promo), 'use case at ~0%, BU at 60%').toBe('notice');

      await budget({ scope: 'bu', scopeId: 'marketing', limit: ((await spent()) / 0.85).toFixed(12), unit: 'usd', period: 'month' });
      const writer = await call({ sdk: 'openai', tags: WRITER, model: 'gpt-4.1-mini', maxTokens: 30 });
      expectPassed(writer);
      expect(tier(writer)).toBe('warning');

      // At 103% the BU's soft cap serves the cheaper model even though the use case is far from its own.
      await budget({ scope: 'bu', scopeId: 'marketing', limit: ((await spent()) / 1.03).toFixed(12), unit: 'usd', period: 'month' });
      const soft = await call({ sdk: 'openai', tags: WRITER, model: 'gpt-4.1', maxTokens: 30 });
      expectPassed(soft);
      expect(tier(soft)).toBe('soft_cap');
      expect(soft.bodyModel).toBe('gpt-4.1-mini');

      await budget({ scope: 'bu', scopeId: 'marketing', limit: ((await spent()) / 1.2).toFixed(12), unit: 'usd', period: 'month' });
      const upstreamBefore = gw.upstream.requests.length;
      for (const [sdk, tags, model] of [['anthropic', PROMO, 'claude-haiku-4-5'], ['openai', WRITER, 'gpt-4.1-mini']] as const) {
        const out = await call({ sdk, tags, model, maxTokens: 30 });
        expectDenied(out, 429, 'budget_exhausted', 'bu marketing is at its hard cap');
        expect(out.response.headers.get('x-should-retry')).toBe('false');
        expect(tier(out)).toBe('hard_cap');
      }
      expect(gw.upstream.requests.length).toBe(upstreamBefore);

      const other = await call({ sdk: 'anthropic', tags: FORECASTER, model: 'claude-haiku-4-5' });
      expectPassed(other);
      expect(tier(other)).toBe('ok');
    } finally {
      await budget({ scope: 'bu', scopeId: 'marketing', limit: '4500', unit: 'usd', period: 'month' });
    }
  });

  it('an agent budget decides for that agent only, from the next call of an agent this replica already served', async () => {
    // The replica keeps which budgets apply to this use case, BU and agent; a budget set since must be among them.
    expectPassed(await call({ sdk: 'openai', tags: WRITER, model: 'gpt-4.1-mini', maxTokens: 30 }));
    const id = await budget({ scope: 'agent', scopeId: 'campaign-writer', limit: '1000', unit: 'usd', period: 'month' });
    try {
      await writeBatch(gw.app.tollgate.db, [usageEvent({ ...EXPERIENCE, session_id: 'prime-agent' }, new Date(), '1')]);
      const spent = Number((await counter(id)).spent);
      expect(spent).toBeGreaterThanOrEqual(1);
      await budget({ scope: 'agent', scopeId: 'campaign-writer', limit: (spent / 1.2).toFixed(12), unit: 'usd', period: 'month' });
      const out = await call({ sdk: 'openai', tags: WRITER, model: 'gpt-4.1-mini', maxTokens: 30 });
      expectDenied(out, 429, 'budget_exhausted', 'agent campaign-writer is at its hard cap');
      expect(tier(out)).toBe('hard_cap');

      // Same BU, another agent: passes.
      const promo = await call({ sdk: 'anthropic', tags: PROMO, model: 'claude-haiku-4-5' });
      expectPassed(promo);
      expect(tier(promo)).not.toBe('hard_cap');
    } finally {
      await gw.app.tollgate.db('budgets').where('id', id).del();
    }
  });
});

describe('session caps', () => {
  it('stops the 4th call of a session capped at 3 calls; a new session passes', async () => {
    const id = await budget({ scope: 'session', scopeId: UNDERWRITING.use_case, limit: null, unit: 'usd', period: 'day', maxCalls: 3 });
    try {
      const session = { ...UNDERWRITING, session_id: `loop-${crypto.randomUUID()}` };
      for (let i = 0; i < 3; i++) expectPassed(await call({ sdk: 'anthropic', tags: session, model: 'claude-haiku-4-5' }), `call ${i + 1}`);
      const upstreamBefore = gw.upstream.requests.length;
      const fourth = await call({ sdk: 'anthropic', tags: session, model: 'claude-haiku-4-5' });
      expectDenied(fourth, 429, 'session_budget_exhausted', `session ${session.session_id} has made 3 of its 3 calls today`);
      expect(fourth.response.headers.get('x-should-retry')).toBe('false');
      expect(gw.upstream.requests.length).toBe(upstreamBefore);
      // The denied call gave its reservation (and its call) back.
      const c = await released(id, session.session_id);
      expect(c.calls).toBe(3);

      const fresh = await call({ sdk: 'anthropic', tags: { ...session, session_id: `loop-${crypto.randomUUID()}` }, model: 'claude-haiku-4-5' });
      expectPassed(fresh);
    } finally {
      await gw.app.tollgate.db('budgets').where('id', id).del();
    }
  });

  it('stops a session at its cost cap; a new session passes', async () => {
    const id = await budget({ scope: 'session', scopeId: INVENTORY.use_case, limit: '0.5', unit: 'usd', period: 'day' });
    try {
      const session = { ...INVENTORY, session_id: `spender-${crypto.randomUUID()}` };
      await writeBatch(gw.app.tollgate.db, [usageEvent(session, new Date(), '0.5')]);
      expect(Number((await counter(id, session.session_id)).spent)).toBe(0.5);
      const out = await call({ sdk: 'openai', tags: session, model: 'gpt-4.1-mini', maxTokens: 30 });
      expectDenied(out, 429, 'session_budget_exhausted', `session ${session.session_id} is at its cap`);
      expect(out.response.headers.get('x-should-retry')).toBe('false');

      const fresh = await call({ sdk: 'openai', tags: { ...session, session_id: `spender-${crypto.randomUUID()}` }, model: 'gpt-4.1-mini', maxTokens: 30 });
      expectPassed(fresh);
    } finally {
      await gw.app.tollgate.db('budgets').where('id', id).del();
    }
  });
});

describe('periods', () => {
  const startOf = async (period: 'day' | 'week'): Promise<Date> => {
    const r = await gw.app.tollgate.db.raw(`select (date_trunc('${period}', now() at time zone 'UTC') at time zone 'UTC') as s`);
    return new Date((r.rows as { s: Date }[])[0]!.s);
  };

  for (const [period, tags, now, expected] of [
    ['day', FORECASTER, '0.006', 'notice'],
    ['week', UNDERWRITING, '0.0085', 'warning'],
  ] as const) {
    it(`a ${period} budget counts only the current ${period}; the past ${period} keeps its figures`, async () => {
      const scopeId = tags.use_case;
      const before = (await gw.app.tollgate.db('budgets').where({ scope: 'use_case', scope_id: scopeId }).first()) as { limit_amount: string; unit: 'usd'; period: 'month' };
      const id = await budget({ scope: 'use_case', scopeId, limit: '0.01', unit: 'usd', period });
      try {
        const start = await startOf(period);
        const past = new Date(start.getTime() - 3600_000);
        const s = { ...tags, session_id: `period-${crypto.randomUUID()}` };
        // 500% of the limit last period, 60% / 85% this period.
        await writeBatch(gw.app.tollgate.db, [usageEvent(s, past, '0.05'), usageEvent(s, new Date(), now)]);
        const rowsBefore = await counters(id);
        const pastStart = start.getTime() - (period === 'day' ? 1 : 7) * 86_400_000;
        const pastRow = rowsBefore.find((r) => r.period_start.getTime() === pastStart);
        expect(pastRow).toMatchObject({ spent: expect.stringMatching(/^0\.050*$/) as unknown, calls: 1 });

        const out = await call({ sdk: tags === FORECASTER ? 'anthropic' : 'openai', tags: s, model: tags === FORECASTER ? 'claude-haiku-4-5' : 'gpt-4.1', maxTokens: 30 });
        expectPassed(out);
        expect(tier(out)).toBe(expected);

        const rowsAfter = await counters(id);
        expect(rowsAfter.find((r) => r.period_start.getTime() === pastRow!.period_start.getTime())).toEqual(pastRow);
        const current = rowsAfter.find((r) => r.period_start.getTime() === start.getTime());
        expect(current).toBeDefined();
        expect(current!.calls).toBe(2);
        expect(pico(current!.spent)).toBe(pico(now) + (await ledgerCost([requestId(out)])));
      } finally {
        await budget({ scope: 'use_case', scopeId, limit: before.limit_amount, unit: before.unit, period: before.period });
      }
    });
  }
});

describe('reservation accounting', () => {
  it('after concurrent calls, streaming and not: nothing reserved, spent = the ledger, calls = N', async () => {
    const id = await budgetId('use_case', PROMO.use_case);
    const before = await released(id);
    const n = 20;
    const outs = await Promise.all(Array.from({ length: n }, (_, i) => call({
      sdk: i % 2 === 0 ? 'anthropic' : 'openai', tags: { ...PROMO, session_id: `conc-${i % 3}` },
      model: i % 2 === 0 ? 'claude-haiku-4-5' : 'gpt-4.1-mini', maxTokens: 30, stream: i % 4 >= 2,
    })));
    outs.forEach((o, i) => expectPassed(o, `call ${i}`));
    const after = await released(id);
    expect(Number(after.reserved)).toBe(0);
    expect(after.calls - before.calls).toBe(n);
    expect(pico(after.spent) - pico(before.spent)).toBe(await ledgerCost(outs.map(requestId)));
  });

  it('a denied call (model_not_allowed, valid tags) leaves no reservation and no call behind', async () => {
    const id = await budgetId('use_case', PROMO.use_case);
    const before = await released(id);
    const out = await call({ sdk: 'openai', tags: PROMO, model: 'gpt-4.1', maxTokens: 30 });
    expectDenied(out, 403, 'model_not_allowed');
    const after = await released(id);
    expect(after.calls).toBe(before.calls);
    expect(after.spent).toBe(before.spent);
  });

  it('a stream the client aborts leaves no reservation after the flush; its partial usage is spent', async () => {
    const id = await budgetId('use_case', PROMO.use_case);
    const before = await released(id);
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 60 });
    const key = await keyOf(gw, PROMO.agent_id);
    const controller = new AbortController();
    const { data, response } = await gw.anthropic(key, PROMO).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 20, stream: true, messages: [{ role: 'user', content: PROMPT }] }, { signal: controller.signal })
      .withResponse();
    const seen: string[] = [];
    for await (const ev of data) {
      seen.push(ev.type);
      if (seen.filter((t) => t === 'content_block_delta').length === 2) controller.abort();
    }
    expect(seen).not.toContain('message_stop');
    const id2 = response.headers.get('x-tollgate-request-id')!;
    const row = await waitFor('the aborted call in the ledger', async () => {
      await gw.flush();
      return (await gw.app.tollgate.db('usage_events').where('request_id', id2).first()) as { partial: boolean } | undefined;
    });
    expect(row.partial).toBe(true);
    const after = await released(id);
    expect(after.calls - before.calls).toBe(1);
    expect(pico(after.spent) - pico(before.spent)).toBe(await ledgerCost([id2]));
    expect(await gw.app.tollgate.db('budget_reservations').where('request_id', id2)).toHaveLength(0);
  });
});

describe('output clamp', () => {
  it('clamps a call whose worst case does not fit but whose real cost does, rewriting the upstream body', async () => {
    const id = await budgetId('use_case', EXPERIENCE.use_case);
    await writeBatch(gw.app.tollgate.db, [usageEvent({ ...EXPERIENCE, session_id: 'prime-clamp' }, new Date(), '1')]);
    const spent = pico((await released(id)).spent);
    // Room under the hard cap: $0.001, far more than a real call, far less than 4096 output tokens of gpt-4.1-mini.
    const limit = (spent + 1_000_000_000n) * 10n / 11n + 1n;
    const limitText = `${limit / 10n ** 12n}.${(limit % 10n ** 12n).toString().padStart(12, '0')}`;
    await budget({ scope: 'use_case', scopeId: EXPERIENCE.use_case, limit: limitText, unit: 'usd', period: 'month' });
    try {
      const fits = await call({ sdk: 'openai', tags: EXPERIENCE, model: 'gpt-4.1-mini', maxTokens: 30 });
      expectPassed(fits);
      expect(fits.response.headers.get('x-tollgate-output-clamped')).toBeNull();
      expect((gw.upstream.requests.at(-1)!.body as { max_tokens: number }).max_tokens).toBe(30);

      const s = pico((await released(id)).spent);
      const out = await call({ sdk: 'openai', tags: EXPERIENCE, model: 'gpt-4.1-mini' });
      expectPassed(out);
      expect(tier(out)).toBe('soft_cap');
      const header = Number(out.response.headers.get('x-tollgate-output-clamped'));
      const p = seedPriceAt('gpt-4.1-mini', new Date());
      const perIn = pico(p.input_per_mtok) / 10n ** 6n;
      const perOut = pico(p.output_per_mtok) / 10n ** 6n;
      const expected = Number((limit * 11n / 10n - s - BigInt(out.prompt) * perIn) / perOut);
      expect(Math.abs(header - expected), `clamp ${header} vs ${expected}`).toBeLessThanOrEqual(1);
      expect(header).toBeGreaterThan(20);
      expect(header).toBeLessThan(4096);
      const body = gw.upstream.requests.at(-1)!.body as Record<string, unknown>;
      expect(body.max_completion_tokens ?? body.max_tokens).toBe(header);
      expect(gw.upstream.usageLog.at(-1)!.usage.output_tokens).toBe(20);
      expect(pico((await released(id)).spent) * 10n).toBeLessThanOrEqual(limit * 11n);
    } finally {
      await budget({ scope: 'use_case', scopeId: EXPERIENCE.use_case, limit: '800', unit: 'usd', period: 'month' });
    }
  });
});

/** Makes the reservation statement fail without stopping the database. */
async function counterTableAway(g: Gateway, away: boolean) {
  await g.app.tollgate.db.raw(away ? 'alter table budget_counters rename to budget_counters_away' : 'alter table budget_counters_away rename to budget_counters');
}

describe('budget state unavailable', () => {
  it('fails closed by default: 503 budget_unavailable in each provider shape; passes again once the state is back', async () => {
    await counterTableAway(gw, true);
    let restored = false;
    try {
      const a = await call({ sdk: 'anthropic', tags: FORECASTER, model: 'claude-haiku-4-5', maxRetries: 0 });
      expectDenied(a, 503, 'budget_unavailable');
      expect((a.error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { code: 'budget_unavailable' } });
      const o = await call({ sdk: 'openai', tags: WRITER, model: 'gpt-4.1-mini', maxTokens: 30, maxRetries: 0 });
      expectDenied(o, 503, 'budget_unavailable');
      await counterTableAway(gw, false);
      restored = true;
      const again = await call({ sdk: 'anthropic', tags: FORECASTER, model: 'claude-haiku-4-5' });
      expectPassed(again);
      expect(tier(again)).not.toBe('unknown');
      await gw.flush();
      const denials = await gw.app.tollgate.db('decision_log').whereIn('request_id', [requestId(a), requestId(o)]);
      expect(denials.map((d: { code: string }) => d.code)).toEqual(['budget_unavailable', 'budget_unavailable']);
    } finally {
      if (!restored) await counterTableAway(gw, false);
    }
  });

  describe('with a bundle that fails open for one use case', () => {
    let open: Gateway;
    let tmp: string;

    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-open-'));
      const stage = path.join(tmp, 'stage');
      const source = path.join(ROOT, 'policies/tollgate');
      fs.cpSync(source, stage, { recursive: true, filter: (src) => { const rel = path.relative(source, src); return !rel.startsWith('fixtures') && !rel.endsWith('_test.rego'); } });
      const dataFile = path.join(stage, 'config/data.json');
      const data = JSON.parse(fs.readFileSync(dataFile, 'utf8')) as { budget: { when_unavailable: { use_cases: Record<string, string> } } };
      data.budget.when_unavailable.use_cases[FORECASTER.use_case] = 'open';
      fs.writeFileSync(dataFile, JSON.stringify(data));
      const out = path.join(tmp, 'open.tar.gz');
      const result = spawnSync(process.env.OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'tollgate/decision', '--revision', 'test-fail-open', '-o', out, '.'], { cwd: stage, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`opa build failed: ${result.stderr || String(result.error)}`);
      open = await startGateway({ TOLLGATE_POLICY_BUNDLE: out });
    });
    afterAll(async () => {
      await open?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('passes a fail-open use case on the last known numbers, denies a fail-closed one, and reconciles after', async () => {
      const id = await budget({ scope: 'use_case', scopeId: FORECASTER.use_case, limit: '0.01', unit: 'usd', period: 'month' }, open);
      await writeBatch(open.app.tollgate.db, [usageEvent({ ...FORECASTER, session_id: 'prime-open' }, new Date(), '0.006')]);
      const known = await call({ g: open, sdk: 'anthropic', tags: FORECASTER, model: 'claude-haiku-4-5' });
      expectPassed(known);
      expect(tier(known)).toBe('notice');
      await open.flush();

      await counterTableAway(open, true);
      let restored = false;
      let degraded: Outcome;
      try {
        degraded = await call({ g: open, sdk: 'anthropic', tags: FORECASTER, model: 'claude-haiku-4-5' });
        expectPassed(degraded, 'the fail-open use case');
        expect(tier(degraded)).toBe('notice');
        const closed = await call({ g: open, sdk: 'openai', tags: WRITER, model: 'gpt-4.1-mini', maxTokens: 30, maxRetries: 0 });
        expectDenied(closed, 503, 'budget_unavailable');
        await counterTableAway(open, false);
        restored = true;
      } finally {
        if (!restored) await counterTableAway(open, false);
      }
      // The primed event, the call before and the one that ran without a reservation: the last is counted once the
      // ledger takes it (the journal retries).
      const c = await waitFor('the fail-open call in the counters', async () => {
        const cur = await counter(id, '', open);
        return cur.calls === 3 ? cur : undefined;
      });
      expect(Number(c.reserved)).toBe(0);
      expect(pico(c.spent)).toBe(pico('0.006') + (await ledgerCost([requestId(known), requestId(degraded!)], open)));
    });
  });
});
