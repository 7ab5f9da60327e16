import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thresholdsFrom } from '../../src/analytics/forecast.js';
import { applyDuePriceChanges } from '../../src/budgets/price-changes.js';
import { importPrices } from '../../src/catalog/prices/import.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import { upsertBudget } from '../../src/db/budgets.js';
import { focusCsv } from '../../src/db/periods.js';
import { sumLedger } from '../../src/db/ledger.js';
import { listReforecasts } from '../../src/db/reforecasts.js';
import { setBudget, startGateway, FORECASTER, WRITER, type Gateway } from '../helpers/gateway.js';

/**
 * Issue 15: the living price book, end to end with the official SDKs. Dated ids land under their catalog model,
 * prices move at their time and re-forecast budgets once, unpriced models are denied or flagged as the policy's
 * data says, 1-hour cache writes and service tiers are priced as billed.
 */

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const EXCERPT = fs.readFileSync(path.join(ROOT, 'test/fixtures/litellm-excerpt.json'), 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let gw: Gateway;
let key: { forecaster: string; writer: string };

const row = async (requestId: string | null) => (await gw.app.tollgate.db('usage_events').where('request_id', requestId!).first()) as Record<string, unknown>;

beforeAll(async () => {
  gw = await startGateway({ TOLLGATE_CATALOG_REFRESH_MS: 100, TOLLGATE_REFORECAST_INTERVAL_MS: 0 });
  key = { forecaster: await gw.key(FORECASTER.agent_id), writer: await gw.key(WRITER.agent_id) };
});
afterAll(async () => gw?.close());

describe('model aliases', () => {
  it('a dated id reaches the upstream as sent and lands in the ledger under its catalog model, at its price', async () => {
    const { data, response } = await gw.anthropic(key.forecaster, FORECASTER).messages
      .create({ model: 'claude-haiku-4-5-20251001', max_tokens: 20, messages: [{ role: 'user', content: 'explore the repository' }] }).withResponse();
    expect(data.model).toBe('claude-haiku-4-5-20251001');
    expect(gw.upstream.requests.at(-1)!.body).toMatchObject({ model: 'claude-haiku-4-5-20251001' });
    expect(response.headers.get('x-tollgate-model-served')).toBe('claude-haiku-4-5');
    await gw.flush();
    const r = await row(response.headers.get('x-tollgate-request-id'));
    expect(r).toMatchObject({ model_requested: 'claude-haiku-4-5-20251001', model_served: 'claude-haiku-4-5', cost_estimated: false });
    const price = await gw.app.tollgate.db('prices').where('id', r.price_id as number).first();
    expect(price.model_id).toBe('claude-haiku-4-5');
  });

  it('an alias of a model the agent may not use is refused like the model itself', async () => {
    const err = await gw.anthropic(key.writer, WRITER).messages
      .create({ model: 'claude-haiku-4-5-20251001', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, error: { error: { code: 'model_not_allowed' } } });
  });
});

describe('unpriced models, decided by the policy data', () => {
  it('denies a model with no price in force by default, on both SDKs, never metering it at 0', async () => {
    const openai = await gw.openai(key.writer, WRITER).chat.completions
      .create({ model: 'gpt-5.4', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(openai).toMatchObject({ status: 403, code: 'model_not_priced' });
    await gw.app.tollgate.db('models').insert({ id: 'claude-unpriced', provider_id: 'anthropic', family: 'x', display_name: 'x' });
    await gw.app.tollgate.db('agent_models').insert({ agent_id: FORECASTER.agent_id, model_id: 'claude-unpriced' });
    await gw.app.tollgate.catalog.refresh();
    const anthropic = await gw.anthropic(key.forecaster, FORECASTER).messages
      .create({ model: 'claude-unpriced', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(anthropic).toMatchObject({ status: 403, error: { error: { code: 'model_not_priced' } } });
    await gw.flush();
    expect(Number((await gw.app.tollgate.db('usage_events').whereIn('model_served', ['gpt-5.4', 'claude-unpriced']).count({ n: '*' }))[0]!.n)).toBe(0);
  });

  describe('with a bundle whose data runs one use case on an estimate', () => {
    let est: Gateway;
    let tmp: string;
    beforeAll(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-estimate-'));
      const stage = path.join(tmp, 'stage');
      const source = path.join(ROOT, 'policies/tollgate');
      fs.cpSync(source, stage, { recursive: true, filter: (src) => { const rel = path.relative(source, src); return !rel.startsWith('fixtures') && !rel.endsWith('_test.rego'); } });
      const dataFile = path.join(stage, 'config/data.json');
      const data = JSON.parse(fs.readFileSync(dataFile, 'utf8')) as { unpriced: { use_cases: Record<string, string> } };
      data.unpriced.use_cases[WRITER.use_case] = 'estimate';
      fs.writeFileSync(dataFile, JSON.stringify(data));
      const out = path.join(tmp, 'estimate.tar.gz');
      const result = spawnSync(process.env.OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'tollgate/decision', '--revision', 'test-estimate', '-o', out, '.'], { cwd: stage, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`opa build failed: ${result.stderr || String(result.error)}`);
      est = await startGateway({ TOLLGATE_POLICY_BUNDLE: out });
    });
    afterAll(async () => {
      await est?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('allows it where the data says so, metered at the estimate and flagged; denies it elsewhere', async () => {
      const writer = await est.key(WRITER.agent_id);
      const { response } = await est.openai(writer, WRITER).chat.completions
        .create({ model: 'gpt-5.4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      await est.flush();
      const r = (await est.app.tollgate.db('usage_events').where('request_id', response.headers.get('x-tollgate-request-id')!).first()) as Record<string, unknown>;
      expect(r).toMatchObject({ model_served: 'gpt-5.4', price_id: null, cost_estimated: true });
      // The estimate is the provider's highest prices in force: GPT-5.5's priority row is not standard, so gpt-4.1's input (2) and output (8).
      const usage = { input: Number(r.input_tokens), cached: Number(r.cached_input_tokens), output: Number(r.output_tokens) };
      const ceiling = await est.app.tollgate.prices.book.estimateAt('openai', new Date());
      expect(ceiling).toMatchObject({ input_per_mtok: expect.any(String) });
      const expected = (usage.input * Number(ceiling!.input_per_mtok) + usage.cached * Number(ceiling!.cached_input_per_mtok) + usage.output * Number(ceiling!.output_per_mtok)) / 1e6;
      expect(Number(r.cost)).toBeCloseTo(expected, 12);
      expect(Number(r.cost)).toBeGreaterThan(0);
      const forecaster = await est.key(FORECASTER.agent_id);
      await est.app.tollgate.db('models').insert({ id: 'claude-unpriced', provider_id: 'anthropic', family: 'x', display_name: 'x' });
      await est.app.tollgate.db('agent_models').insert({ agent_id: FORECASTER.agent_id, model_id: 'claude-unpriced' });
      await est.app.tollgate.catalog.refresh();
      const denied = await est.anthropic(forecaster, FORECASTER).messages
        .create({ model: 'claude-unpriced', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(denied).toMatchObject({ status: 403, error: { error: { code: 'model_not_priced' } } });
    });
  });
});

describe('price kinds', () => {
  it('prices 1-hour cache writes at their own price, within cache_write_tokens, streamed and not', async () => {
    const client = gw.anthropic(key.forecaster, FORECASTER);
    const system = [{ type: 'text' as const, text: '[cache-write] a long shared prompt about demand planning '.repeat(8), cache_control: { type: 'ephemeral' as const, ttl: '1h' as const } }];
    const { response } = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, system, messages: [{ role: 'user', content: 'go' }] }).withResponse();
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 10, system, messages: [{ role: 'user', content: 'go' }] });
    await stream.finalMessage();
    await gw.flush();
    const ids = [response.headers.get('x-tollgate-request-id'), (await stream.withResponse()).response.headers.get('x-tollgate-request-id')];
    for (const id of ids) {
      const r = await row(id);
      expect(Number(r.cache_write_1h_tokens)).toBeGreaterThan(0);
      expect(Number(r.cache_write_1h_tokens)).toBe(Number(r.cache_write_tokens));
      const micros = Number(r.input_tokens) * 1 + Number(r.cached_input_tokens) * 0.1 + Number(r.cache_write_1h_tokens) * 2 + Number(r.output_tokens) * 5;
      expect(Number(r.cost)).toBeCloseTo(micros / 1e6, 12);
    }
  });

  it('prices the service tier the answer names (priority), JSON and SSE', async () => {
    await gw.app.tollgate.db('prices').insert({ model_id: 'gpt-4.1-mini', service_tier: 'priority', effective_from: '2025-04-14T00:00:00Z', input_per_mtok: '0.70', cached_input_per_mtok: '0.175', cache_write_per_mtok: '0', output_per_mtok: '2.80', source: 'test' });
    await gw.app.tollgate.prices.refresh();
    const client = gw.openai(key.writer, WRITER);
    const json = await client.chat.completions.create({ model: 'gpt-4.1-mini', service_tier: 'priority', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const sse = await client.chat.completions.create({ model: 'gpt-4.1-mini', service_tier: 'priority', stream: true, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    for await (const _ of sse.data) { /* drain */ }
    expect(json.data.service_tier).toBe('priority');
    await gw.flush();
    for (const id of [json.response.headers.get('x-tollgate-request-id'), sse.response.headers.get('x-tollgate-request-id')]) {
      const r = await row(id);
      expect(r.service_tier).toBe('priority');
      const p = await gw.app.tollgate.db('prices').where('id', r.price_id as number).first();
      expect(p.service_tier).toBe('priority');
      expect(Number(r.cost)).toBeCloseTo((Number(r.input_tokens) * 0.7 + Number(r.cached_input_tokens) * 0.175 + Number(r.output_tokens) * 2.8) / 1e6, 12);
    }
  });
});

describe('a price change effective at T', () => {
  it('prices calls before T at the old price and after at the new one; chargeback and FOCUS agree; the owner hears once', async () => {
    const db = gw.app.tollgate.db;
    const budget = await setBudget(gw, { scope: 'use_case', scopeId: FORECASTER.use_case, limit: '1000000', unit: 'usd', period: 'month', maxCalls: null });
    const client = gw.anthropic(key.forecaster, { ...FORECASTER, session_id: 'sess-price-change' });
    const ask = async () => (await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'forecast demand for next week' }] }).withResponse()).response.headers.get('x-tollgate-request-id');
    const T = new Date(Date.now() + 1500);
    const file = JSON.stringify({ prices: [{ model_id: 'claude-haiku-4-5', input_per_mtok: '10', cached_input_per_mtok: '1', cache_write_per_mtok: '12.5', cache_write_1h_per_mtok: '20', output_per_mtok: '50' }] });
    const report = await importPrices(db, { text: file, format: 'tollgate-json', source: 'test', effectiveFrom: T });
    expect(report.lines.map((l) => l.status)).toEqual(['changed']);
    const before = await ask();
    await sleep(T.getTime() - Date.now() + 300);
    const after = await ask();
    await gw.flush();
    const [b, a] = [await row(before), await row(after)];
    expect(new Date(b.ts as string).getTime()).toBeLessThan(T.getTime());
    expect(new Date(a.ts as string).getTime()).toBeGreaterThanOrEqual(T.getTime());
    const costAt = (r: Record<string, unknown>, input: number, output: number) => (Number(r.input_tokens) * input + Number(r.output_tokens) * output) / 1e6;
    expect(Number(b.cost)).toBeCloseTo(costAt(b, 1, 5), 12);
    expect(Number(a.cost)).toBeCloseTo(costAt(a, 10, 50), 12);
    expect(a.price_id).toBe(report.written[0]);

    const period = T.toISOString().slice(0, 7);
    const ledger = await sumLedger(db, { useCaseId: FORECASTER.use_case });
    const focus = (await focusCsv(db, period)).trim().split('\n').slice(1).map((l) => l.split(','));
    const focusTotal = focus.filter((c) => c.includes(FORECASTER.use_case)).reduce((s, c) => s + Number(c[0]), 0);
    expect(focusTotal).toBeCloseTo(Number(ledger.cost), 9);
    const gql = await graphql(`{ chargeback(period: "${period}", groupBy: [USE_CASE], filter: { useCase: "${FORECASTER.use_case}" }) { totals { cost } } prices(model: "claude-haiku-4-5") { inputPerMTok effectiveFrom } priceHistory(model: "claude-haiku-4-5") { inputPerMTok } }`);
    expect(gql.chargeback.totals.cost).toBe(ledger.cost);
    expect(gql.prices).toEqual([{ inputPerMTok: '10.00000000', effectiveFrom: T.toISOString() }]);
    expect(gql.priceHistory.map((p: { inputPerMTok: string }) => p.inputPerMTok)).toEqual(['1.00000000', '10.00000000']);

    // The limit puts the forecast at new prices at 65% (notice) and at old prices far below 50% (ten times cheaper,
    // most of the month left): the owner is told once.
    const counter = await db('budget_counters').where({ budget_id: budget.id, key: '' }).first();
    const spent = Number(counter.spent);
    const now = new Date();
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const elapsed = now.getTime() - start.getTime();
    const tokens = await db('usage_events').where({ use_case_id: FORECASTER.use_case, model_served: 'claude-haiku-4-5' }).sum({ i: 'input_tokens', c: 'cached_input_tokens', w: 'cache_write_tokens', o: 'output_tokens' }).first() as Record<'i' | 'c' | 'w' | 'o', string>;
    const oldF = spent * (end.getTime() - start.getTime()) / elapsed;
    const delta = (Number(tokens.i) * 9 + Number(tokens.c) * 0.9 + Number(tokens.w) * 11.25 + Number(tokens.o) * 45) / 1e6;
    const newF = oldF + delta * (end.getTime() - now.getTime()) / elapsed;
    await upsertBudget(db, { scope: 'use_case', scopeId: FORECASTER.use_case, limit: (newF / 0.65).toFixed(12), unit: 'usd', period: 'month', maxCalls: null });
    const thresholds = thresholdsFrom(gw.app.tollgate.policy.data);
    const runs = await Promise.all([applyDuePriceChanges(db, { now, thresholds }), applyDuePriceChanges(db, { now, thresholds })]);
    expect(runs.reduce((s, r) => s + r.notices, 0)).toBe(1);
    expect((await applyDuePriceChanges(db, { now, thresholds })).notices).toBe(0);
    const reforecasts = await listReforecasts(db, { budgetId: budget.id });
    expect(reforecasts).toHaveLength(1);
    expect(reforecasts[0]).toMatchObject({ price_id: report.written[0], old_tier: 'OK', new_tier: 'NOTICE' });
    expect(Number(reforecasts[0]!.old_forecast)).toBeLessThan(Number(reforecasts[0]!.new_forecast));
    const outbox = await db('notification_outbox').where('reforecast_id', reforecasts[0]!.id);
    expect(outbox).toHaveLength(1);
    const payload = (typeof outbox[0].payload === 'string' ? JSON.parse(outbox[0].payload) : outbox[0].payload) as { text: string; tollgate: Record<string, unknown> };
    expect(outbox[0].recipient).toBe('owner');
    expect(payload.tollgate).toMatchObject({ kind: 'budget_reforecast', old_tier: 'OK', new_tier: 'NOTICE', price_change: { model: 'claude-haiku-4-5', price_id: report.written[0] } });
    expect(payload.text).toMatch(/claude-haiku-4-5 now costs 10\.00000000/);
  });
});

describe('importing the LiteLLM map', () => {
  it('prices every catalog model it covers exactly as its text says, reports the rest, and a second import changes nothing', async () => {
    const db = gw.app.tollgate.db;
    const first = await importPrices(db, { text: EXCERPT, format: 'litellm', source: 'LiteLLM excerpt' });
    const status = (m: string, tier = 'standard') => first.lines.find((l) => l.price.model_id === m && l.price.service_tier === tier)?.status;
    expect(status('claude-opus-4-8')).toBe('unchanged');
    expect(status('gpt-5.4')).toBe('new');
    expect(status('gpt-5.4', 'flex')).toBe('new');
    expect(status('gpt-4.1', 'batch')).toBe('new');
    expect(first.notInCatalog).toContain('openai/o3-pro');
    // A cloud vendor's entry, under LiteLLM's routing prefix, prices the vendor's model: the global price, where the
    // demo seed has the regional endpoint's (+10%).
    expect(status('vertex/claude-haiku-4-5')).toBe('changed');
    expect(first.notCovered).toEqual(expect.arrayContaining(['claude-sonnet-5-5', 'gpt-5.5', 'gpt-5.4-mini']));
    const gpt54 = await db('prices').where({ model_id: 'gpt-5.4', service_tier: 'standard' }).first();
    expect([gpt54.input_per_mtok, gpt54.cached_input_per_mtok, gpt54.output_per_mtok].map(String)).toEqual(['2.50000000', '0.25000000', '15.00000000']);
    const rows = await db('prices').count({ n: '*' });
    const second = await importPrices(db, { text: EXCERPT, format: 'litellm', source: 'LiteLLM excerpt' });
    expect(second.written).toEqual([]);
    expect(second.lines.every((l) => l.status === 'unchanged')).toBe(true);
    expect(await db('prices').count({ n: '*' })).toEqual(rows);
  });
});

async function graphql(query: string) {
  const t = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'finance' });
  const res = await gw.app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${t.token}` }, payload: { query } });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test reads its own query's shape
  const body = res.json() as { data: Record<string, any>; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}
