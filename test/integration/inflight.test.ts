import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reserveBudgets, sweepExpiredReservations, upsertBudget } from '../../src/db/budgets.js';
import { renewCallLeases } from '../../src/db/inflight.js';
import type { Db } from '../../src/db/knex.js';
import { writeBatch } from '../../src/db/ledger.js';
import { closePeriod } from '../../src/db/periods.js';
import { sweepOrphanedCalls } from '../../src/metering/orphans.js';
import type { InflightRecord, UsageEvent } from '../../src/metering/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

let t: TestDb;
beforeEach(async () => {
  t = await createTestDb();
});
afterEach(async () => t?.drop());

function inflight(ev: UsageEvent, expiresInMs: number): InflightRecord {
  const fallback: UsageEvent = {
    ...ev, status: 0, partial: true, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, cost: '0.000100000000', flags: ['fallback'],
  };
  return { kind: 'inflight', request_id: ev.request_id, ts: ev.ts, expires_at: new Date(Date.now() + expiresInMs).toISOString(), fallback };
}

const inflightCount = async () => Number((await t.db('inflight_calls').count<{ n: string }[]>('* as n'))[0]!.n);

describe('calls in flight', () => {
  it('are cleared when their usage is written, in the same batch or a later one', async () => {
    const [a, b] = [usageEvent(1, {}, 'if'), usageEvent(2, {}, 'if')];
    await writeBatch(t.db, [inflight(a, 60_000), a, inflight(b, 60_000)]);
    expect(await t.db('inflight_calls').pluck('request_id')).toEqual([b.request_id]);
    await writeBatch(t.db, [b]);
    expect(await inflightCount()).toBe(0);
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
    expect(Number((await t.db('usage_events').count<{ n: string }[]>('* as n'))[0]!.n)).toBe(2);
  });

  it('cost no row when the call starts and ends in one transaction, and a row an earlier batch wrote is still cleared', async () => {
    const inserts: string[] = [];
    t.db.on('query', (q: { sql: string }) => {
      if (/insert into inflight_calls/i.test(q.sql)) inserts.push(q.sql);
    });
    const [a, b] = [usageEvent(1, {}, 'pair'), usageEvent(2, {}, 'pair')];
    await writeBatch(t.db, [inflight(a, 60_000), a]);
    expect(inserts).toEqual([]);
    await writeBatch(t.db, [inflight(b, 60_000)]);
    expect(await t.db('inflight_calls').pluck('request_id')).toEqual([b.request_id]);
    // A retry of a batch whose first transaction (with the in-flight record) had committed brings both at once.
    await writeBatch(t.db, [inflight(b, 60_000), b]);
    expect(await inflightCount()).toBe(0);
    expect(inserts).toHaveLength(1);
  });

  it('are metered from their fallback once their lease runs out, exactly once', async () => {
    const orphan = usageEvent(3, {}, 'if');
    const live = usageEvent(4, {}, 'if');
    await writeBatch(t.db, [inflight(orphan, -1000), inflight(live, 60_000)]);
    expect(await sweepOrphanedCalls(t.db)).toBe(1);
    const row = await t.db('usage_events').where('request_id', orphan.request_id).first();
    expect(row).toMatchObject({ status: 0, partial: true, output_tokens: 0 });
    expect(await t.db('inflight_calls').pluck('request_id')).toEqual([live.request_id]);
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
  });

  it('are not recorded again when a journal replays calls already in the ledger', async () => {
    const done = usageEvent(5, {}, 'if');
    await writeBatch(t.db, [done]);
    await writeBatch(t.db, [inflight(done, -1000), done]);
    expect(await inflightCount()).toBe(0);
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
  });
});

/** Every figure the writer keeps beside the ledger, summed, against the ledger's own sums. */
async function expectFiguresMatchLedger(db: Db, budgets: { usd: number; tokens: number }): Promise<void> {
  const one = async (sql: string) => ((await db.raw(sql)) as { rows: Record<string, unknown>[] }).rows[0]!;
  const text = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? '0' : String(Number(v))]));
  const ledger = text(await one(`select count(*) as calls, sum(input_tokens) as input, sum(cached_input_tokens) as cached, sum(cache_write_tokens) as write,
    sum(output_tokens) as output, sum(cost) as cost, count(*) filter (where partial) as partial, count(*) filter (where status >= 400) as errors,
    sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens) as tokens, sum(coalesce(cardinality(tools), 0)) as tools from usage_events`));
  for (const table of ['usage_hourly', 'usage_monthly']) {
    expect(text(await one(`select sum(calls) as calls, sum(input_tokens) as input, sum(cached_input_tokens) as cached, sum(cache_write_tokens) as write,
      sum(output_tokens) as output, sum(cost) as cost, sum(partial_calls) as partial, sum(error_calls) as errors from ${table}`)), table)
      .toEqual({ calls: ledger.calls, input: ledger.input, cached: ledger.cached, write: ledger.write, output: ledger.output, cost: ledger.cost, partial: ledger.partial, errors: ledger.errors });
  }
  expect(text(await one('select sum(cost) as cost, sum(tokens) as tokens, sum(calls) as calls from use_case_spend'))).toEqual({ cost: ledger.cost, tokens: ledger.tokens, calls: ledger.calls });
  expect(text(await one('select sum(calls) as tools from tool_usage_daily'))).toEqual({ tools: ledger.tools });
  const counter = async (id: number) => text(await one(`select sum(spent) as spent, sum(calls) as calls, sum(reserved) as reserved from budget_counters where budget_id = ${id}`));
  expect(await counter(budgets.usd)).toEqual({ spent: ledger.cost, calls: ledger.calls, reserved: '0' });
  expect(await counter(budgets.tokens)).toEqual({ spent: ledger.tokens, calls: ledger.calls, reserved: '0' });
}

describe('a fallback written while its call was still live (issue 16: long streams are metered by the dead-gateway fallback)', () => {
  let budgets: { usd: number; tokens: number };
  const reserve = (ev: UsageEvent, expiresInMs: number) => reserveBudgets(t.db, {
    requestId: ev.request_id, at: new Date(ev.ts), bu: ev.bu_id, useCase: ev.use_case_id, agent: ev.agent_id, session: ev.session_id,
    cost: '0.5', tokens: 5000, expiresAt: new Date(Date.now() + expiresInMs),
  });

  beforeEach(async () => {
    const usd = await upsertBudget(t.db, { scope: 'use_case', scopeId: 'trade-promo', limit: '100', unit: 'usd', period: 'month' });
    const tokens = await upsertBudget(t.db, { scope: 'bu', scopeId: 'marketing', limit: '100000000', unit: 'tokens', period: 'month' });
    budgets = { usd: usd.after.id, tokens: tokens.after.id };
  });

  it('is replaced by the real usage event, which moves spend, budgets, rollups and tool counts by the difference, once', async () => {
    const real = usageEvent(10, { tools: ['inventory_lookup'] }, 'live');
    const other = usageEvent(11, { tools: ['inventory_lookup', 'web'] }, 'live');
    await reserve(real, 60_000);
    await reserve(other, 60_000);
    // The lease ran out (the sweeps saw it expired) though the call was still streaming.
    await writeBatch(t.db, [inflight(real, -1000), { ...inflight(other, 60_000) }]);
    expect(await sweepExpiredReservations(t.db)).toBe(0);
    expect(await sweepOrphanedCalls(t.db)).toBe(1);
    expect(await t.db('usage_events').where({ request_id: real.request_id }).first()).toMatchObject({ status: 0, flags: ['fallback'] });

    // Its real usage arrives, in a batch with another call's.
    const result = await writeBatch(t.db, [real, other]);
    expect(result.usageInserted).toBe(2);
    const rows = (await t.db('usage_events').orderBy('request_id')) as Record<string, unknown>[];
    expect(rows.map((r) => [r.request_id, r.status, r.flags, Number(r.output_tokens), String(r.cost)])).toEqual([
      [real.request_id, 200, ['replaced_fallback'], real.output_tokens, real.cost],
      [other.request_id, 200, null, other.output_tokens, other.cost],
    ]);
    await expectFiguresMatchLedger(t.db, budgets);

    // Replays of either event change nothing more.
    expect((await writeBatch(t.db, [real, other, inflight(real, -1000).fallback])).usageInserted).toBe(0);
    await expectFiguresMatchLedger(t.db, budgets);
  });

  it('stays when its month was closed: a closed month\'s figures never change', async () => {
    const real = usageEvent(12, {}, 'closed');
    await writeBatch(t.db, [inflight(real, -1000)]);
    expect(await sweepOrphanedCalls(t.db)).toBe(1);
    await closePeriod(t.db, '2025-03', 'test');
    expect((await writeBatch(t.db, [real])).usageInserted).toBe(0);
    expect(await t.db('usage_events').where({ request_id: real.request_id }).first()).toMatchObject({ status: 0, flags: ['fallback'] });
    await expectFiguresMatchLedger(t.db, budgets);
  });

  it('is not written at all while the call\'s lease is renewed: in-flight row and reservation, in one statement', async () => {
    const live = usageEvent(13, {}, 'renewed');
    await reserve(live, 500);
    await writeBatch(t.db, [inflight(live, 500)]);
    expect(await renewCallLeases(t.db, [live.request_id, 'gone-already'], 60_000)).toEqual({ inflight: 1, reservations: 1 });
    await new Promise((r) => setTimeout(r, 700));
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
    expect(await sweepExpiredReservations(t.db)).toBe(0);
    await writeBatch(t.db, [live]);
    expect(await t.db('usage_events').where({ request_id: live.request_id }).first()).toMatchObject({ status: 200, flags: null });
    await expectFiguresMatchLedger(t.db, budgets);
  });
});
