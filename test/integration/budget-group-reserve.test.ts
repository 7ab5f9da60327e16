import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetGate } from '../../src/budgets/gate.js';
import type { Db } from '../../src/db/knex.js';
import { reserveBudgetsInOrder, upsertBudget, type ReservationSubject } from '../../src/db/budgets.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const AT = new Date('2025-03-10T12:00:00.000Z');
const N = 12;
const silent = { warn: () => {}, info: () => {} };

/** Exact decimals compared as picos, whatever scale Postgres prints them at. */
const pico = (v: string | number) => BigInt(Math.round(Number(v) * 1e12));

// Calls alternate between two sessions, so that a group holds several counter rows of one budget.
function call(i: number): Omit<ReservationSubject, 'expiresAt'> {
  return {
    requestId: `call-${i}`, at: AT, bu: 'marketing', useCase: 'trade-promo', agent: 'promo-agent', session: `s-${i % 2}`,
    cost: `0.${i + 1}`, tokens: 10 * (i + 1),
  };
}
const costOf = (i: number) => pico(`0.${i + 1}`);
const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);

/** The same database, but whose connections fail while `away` is set, as when Postgres is stopped. */
function flaky(db: Db) {
  const state = { away: false };
  const client = db.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
  const proxy = new Proxy(db.client as object, {
    get(target, prop, receiver) {
      if (prop === 'acquireConnection') return () => (state.away ? Promise.reject(new Error('connect ECONNREFUSED')) : client.acquireConnection());
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { db: { client: proxy } as unknown as Db, state };
}

describe('group reservations: calls that race are reserved in one statement, as if one after another', () => {
  let t: TestDb;
  let ids: { useCase: number; bu: number; session: number };

  beforeAll(async () => {
    t = await createTestDb();
    const useCase = await upsertBudget(t.db, { scope: 'use_case', scopeId: 'trade-promo', limit: '1', unit: 'usd', period: 'month' });
    const bu = await upsertBudget(t.db, { scope: 'bu', scopeId: 'marketing', limit: '500', unit: 'tokens', period: 'month' });
    const session = await upsertBudget(t.db, { scope: 'session', scopeId: '*', limit: '1', unit: 'usd', period: 'day', maxCalls: 3 });
    ids = { useCase: useCase.after.id, bu: bu.after.id, session: session.after.id };
  });
  beforeEach(async () => {
    await t.db('budget_reservations').delete();
    await t.db('budget_counters').delete();
  });
  afterAll(async () => t.drop());

  it('gives each racing call the counters before its own reservation, in fewer statements than calls', async () => {
    const gate = new BudgetGate(t.db, silent, 60_000);
    const states = await Promise.all(Array.from({ length: N }, (_, i) => gate.reserve(call(i))));

    expect(gate.reservations.sent.statements).toBeLessThan(N);
    expect(gate.reservations.sent.items).toBe(N);
    const facts = (id: number) => states.map((s) => s.budgets.find((b) => b.id === id)!);
    expect(facts(ids.useCase).map((b) => [pico(b.reserved), b.calls])).toEqual(
      states.map((_, i) => [sum(Array.from({ length: i }, (_, j) => costOf(j))), i]),
    );
    expect(facts(ids.bu).map((b) => [b.reserved, b.calls])).toEqual(states.map((_, i) => [5 * i * (i + 1), i]));
    // Each session's calls see only that session's earlier calls.
    expect(facts(ids.session).map((b) => [pico(b.reserved), b.calls])).toEqual(states.map((_, i) => {
      const earlier = Array.from({ length: i }, (_, j) => j).filter((j) => j % 2 === i % 2);
      return [sum(earlier.map(costOf)), earlier.length];
    }));
    expect(states.every((s) => s.available && s.reserved)).toBe(true);

    const rows = (await t.db('budget_reservations').select('request_id', 'budget_ids')) as { request_id: string; budget_ids: number[] }[];
    expect(rows.map((r) => r.request_id).sort()).toEqual(states.map((_, i) => `call-${i}`).sort());
    expect(rows.every((r) => r.budget_ids.length === 3)).toBe(true);
    const counters = (await t.db('budget_counters').orderBy(['budget_id', 'key'])) as { budget_id: number; key: string; reserved: string; calls: number }[];
    const all = Array.from({ length: N }, (_, i) => i);
    expect(counters.map((c) => [c.budget_id, c.key, pico(c.reserved), Number(c.calls)])).toEqual([
      [ids.useCase, '', sum(all.map(costOf)), N],
      [ids.bu, '', pico(5 * N * (N + 1)), N],
      [ids.session, 's-0', sum(all.filter((i) => i % 2 === 0).map(costOf)), N / 2],
      [ids.session, 's-1', sum(all.filter((i) => i % 2 === 1).map(costOf)), N / 2],
    ].sort((a, b) => Number(a[0]) - Number(b[0])));
  });

  it('answers a group exactly as the same calls one after another', async () => {
    // One call of another use case and BU: only the sessions' cap applies to it.
    const calls = Array.from({ length: N }, (_, i) => ({ ...call(i), ...(i === 3 ? { useCase: 'other', bu: 'finance' } : {}), expiresAt: AT }));
    const grouped = await reserveBudgetsInOrder(t.db, calls);
    const groupedCounters = await t.db('budget_counters').select('budget_id', 'key', 'reserved', 'calls').orderBy(['budget_id', 'key']);
    await t.db('budget_reservations').delete();
    await t.db('budget_counters').delete();

    const oneByOne = [];
    for (const c of calls) oneByOne.push(...(await reserveBudgetsInOrder(t.db, [c])));
    expect(grouped[3]!.map((b) => b.id)).toEqual([ids.session]);
    expect(grouped).toEqual(oneByOne);
    expect(await t.db('budget_counters').select('budget_id', 'key', 'reserved', 'calls').orderBy(['budget_id', 'key'])).toEqual(groupedCounters);
  });

  it('sends every caller of a failed group down the unavailable path, and the next call is reserved', async () => {
    const { db, state } = flaky(t.db);
    const gate = new BudgetGate(db, silent, 60_000);
    const before = await gate.reserve(call(0));

    state.away = true;
    const failed = await Promise.all(Array.from({ length: N }, (_, i) => gate.reserve(call(i + 1))));
    expect(gate.reservations.sent.statements).toBeLessThan(N + 1);
    // Unavailable: the policy decides on the last known state (fail open) or refuses (fail closed).
    expect(failed.map((s) => [s.available, s.reserved, s.budgets.map((b) => b.id)])).toEqual(
      failed.map((_, i) => [false, false, i % 2 === 1 ? before.budgets.map((b) => b.id) : [ids.useCase, ids.bu]]),
    );

    state.away = false;
    const after = await gate.reserve(call(N + 1));
    expect([after.available, after.reserved]).toEqual([true, true]);
    expect(after.budgets.find((b) => b.id === ids.useCase)!.calls).toBe(1);
    expect((await t.db('budget_reservations').pluck('request_id')).sort()).toEqual(['call-0', `call-${N + 1}`].sort());
  });
});
