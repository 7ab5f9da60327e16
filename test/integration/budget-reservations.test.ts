import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import {
  releaseDenied, reserveBudgets, shrinkReservation, sweepExpiredReservations, upsertBudget, type ReservationSubject,
} from '../../src/db/budgets.js';
import { writeBatch } from '../../src/db/ledger.js';
import { migrationSource } from '../../src/db/migrations/index.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

const AT = new Date('2025-03-10T12:00:00.000Z');
const MONTH = new Date('2025-03-01T00:00:00.000Z');
const DAY = new Date('2025-03-10T00:00:00.000Z');
const LATER = new Date(AT.getTime() + 3_600_000);

type Counter = { budget_id: number; period_start: Date; key: string; spent: string; reserved: string; calls: number };
type Reservation = { request_id: string; budget_ids: number[]; period_starts: Date[]; keys: string[]; amounts: string[]; expires_at: Date };

/** Exact decimals compared as picos, whatever scale Postgres prints them at. */
const pico = (v: string) => BigInt(Math.round(Number(v) * 1e12));

function subject(requestId: string, over: Partial<ReservationSubject> = {}): ReservationSubject {
  return {
    requestId, at: AT, bu: 'marketing', useCase: 'trade-promo', agent: 'promo-agent', session: 's-1',
    cost: '0.000041', tokens: 36, expiresAt: LATER, ...over,
  };
}

async function counters(db: Db): Promise<Map<number, Counter>> {
  const rows = (await db('budget_counters').orderBy('budget_id')) as Counter[];
  return new Map(rows.map((r) => [r.budget_id, { ...r, calls: Number(r.calls) }]));
}

async function reservations(db: Db): Promise<Reservation[]> {
  const rows = (await db.raw(`select request_id, budget_ids, period_starts, keys, amounts::text[] as amounts, expires_at
    from budget_reservations order by request_id`)).rows as Reservation[];
  return rows.map((r) => ({ ...r, period_starts: r.period_starts.map((d) => new Date(d)) }));
}

describe('budget reservations: one row per call', () => {
  let t: TestDb;
  let ids: { useCase: number; bu: number; session: number };

  beforeEach(async () => {
    t = await createTestDb();
    const useCase = await upsertBudget(t.db, { scope: 'use_case', scopeId: 'trade-promo', limit: '100', unit: 'usd', period: 'month' });
    const bu = await upsertBudget(t.db, { scope: 'bu', scopeId: 'marketing', limit: '1000000', unit: 'tokens', period: 'month' });
    const session = await upsertBudget(t.db, { scope: 'session', scopeId: '*', limit: '5', unit: 'usd', period: 'day', maxCalls: 50 });
    ids = { useCase: useCase.after.id, bu: bu.after.id, session: session.after.id };
  });
  afterEach(async () => t.drop());

  it('reserves every applicable budget in one row, and each call sees the ones before it', async () => {
    const first = await reserveBudgets(t.db, subject('call-1'));
    const second = await reserveBudgets(t.db, subject('call-2'));

    expect(first.map((b) => b.id)).toEqual([ids.useCase, ids.bu, ids.session].sort((a, b) => a - b));
    expect(first.map((b) => [pico(b.reserved_before), b.calls_before])).toEqual([[0n, 0], [0n, 0], [0n, 0]]);
    expect(second.map((b) => [pico(b.reserved_before), b.calls_before])).toEqual(first.map((b) => [pico(b.amount), 1]));
    const rows = await reservations(t.db);
    expect(rows.map((r) => r.request_id)).toEqual(['call-1', 'call-2']);
    const [row] = rows;
    expect(row!.budget_ids).toEqual(first.map((b) => b.id));
    expect(row!.keys).toEqual(first.map((b) => (b.id === ids.session ? 's-1' : '')));
    expect(row!.period_starts).toEqual(first.map((b) => (b.id === ids.session ? DAY : MONTH)));
    expect(row!.amounts.map(pico)).toEqual(first.map((b) => (b.id === ids.bu ? pico('36') : pico('0.000041'))));
    expect(new Date(row!.expires_at)).toEqual(LATER);
    const c = await counters(t.db);
    expect([...c.values()].map((x) => [pico(x.reserved), x.calls])).toEqual(first.map((b) => [2n * pico(b.amount), 2]));
  });

  it('leaves no row for a call no budget applies to', async () => {
    await t.db('budgets').delete();
    expect(await reserveBudgets(t.db, subject('none'))).toEqual([]);
    expect(await reservations(t.db)).toEqual([]);
  });

  it('shrinks the row and the counters to the served worst case, and never raises them', async () => {
    await reserveBudgets(t.db, subject('call', { cost: '0.5', tokens: 900 }));
    await shrinkReservation(t.db, 'call', { cost: '0.2', tokens: 1000 });
    const [row] = await reservations(t.db);
    const expected = (id: number) => (id === ids.bu ? pico('900') : pico('0.2'));
    expect(row!.amounts.map(pico)).toEqual(row!.budget_ids.map(expected));
    const c = await counters(t.db);
    expect([...c.entries()].map(([id, x]) => pico(x.reserved) - expected(id))).toEqual([0n, 0n, 0n]);

    await shrinkReservation(t.db, 'call', { cost: '9', tokens: 9000 });
    expect((await reservations(t.db))[0]!.amounts.map(pico)).toEqual(row!.budget_ids.map(expected));
  });

  it('gives a denied call back once: its reservation and its call', async () => {
    await reserveBudgets(t.db, subject('kept'));
    await reserveBudgets(t.db, subject('denied', { cost: '3', tokens: 700 }));
    await releaseDenied(t.db, 'denied');
    await releaseDenied(t.db, 'denied');

    expect((await reservations(t.db)).map((r) => r.request_id)).toEqual(['kept']);
    const c = await counters(t.db);
    expect([...c.values()].map((x) => [pico(x.reserved), x.calls])).toEqual(
      [...c.keys()].map((id) => [id === ids.bu ? pico('36') : pico('0.000041'), 1]),
    );
  });

  it('lets the writer settle a call exactly once, skipping a budget deleted while the call was in flight', async () => {
    await reserveBudgets(t.db, subject('req-1', { cost: '0.9', tokens: 5000 }));
    await t.db('budgets').where({ id: ids.bu }).delete();
    const ev = usageEvent(1, { session_id: 's-1' });

    await writeBatch(t.db, [ev]);
    await writeBatch(t.db, [ev]);

    expect(await reservations(t.db)).toEqual([]);
    const c = await counters(t.db);
    expect([...c.keys()]).toEqual([ids.useCase, ids.session]);
    expect([...c.values()].map((x) => [pico(x.spent), pico(x.reserved), x.calls])).toEqual([[pico(ev.cost), 0n, 1], [pico(ev.cost), 0n, 1]]);
  });

  it('counts a call that ends in the next period once, there: the period it was reserved in gives its call back', async () => {
    await reserveBudgets(t.db, subject('req-1', { at: new Date('2025-03-31T23:59:59.500Z'), cost: '0.9', tokens: 5000 }));
    const ev = usageEvent(1, { ts: '2025-04-01T00:00:00.200Z', session_id: 's-1' });

    await writeBatch(t.db, [ev]);

    expect(await reservations(t.db)).toEqual([]);
    const rows = (await t.db('budget_counters').orderBy(['budget_id', 'period_start'])) as Counter[];
    const tokens = ev.input_tokens + ev.cached_input_tokens + ev.cache_write_tokens + ev.output_tokens;
    expect(rows.map((r) => [r.budget_id, new Date(r.period_start).toISOString().slice(0, 10), pico(r.spent), pico(r.reserved), Number(r.calls)])).toEqual([
      [ids.useCase, '2025-03-01', 0n, 0n, 0], [ids.useCase, '2025-04-01', pico(ev.cost), 0n, 1],
      [ids.bu, '2025-03-01', 0n, 0n, 0], [ids.bu, '2025-04-01', pico(String(tokens)), 0n, 1],
      [ids.session, '2025-03-31', 0n, 0n, 0], [ids.session, '2025-04-01', pico(ev.cost), 0n, 1],
    ].sort((a, b) => Number(a[0]) - Number(b[0])));
  });

  it('sweeps the reservations that expired, and only those', async () => {
    const past = new Date(Date.now() - 1000);
    const future = new Date(Date.now() + 3_600_000);
    await reserveBudgets(t.db, subject('dead-1', { expiresAt: past }));
    await reserveBudgets(t.db, subject('dead-2', { expiresAt: past, session: 's-2' }));
    await reserveBudgets(t.db, subject('live', { expiresAt: future }));

    expect(await sweepExpiredReservations(t.db)).toBeGreaterThan(0);
    expect(await sweepExpiredReservations(t.db)).toBe(0);

    expect((await reservations(t.db)).map((r) => r.request_id)).toEqual(['live']);
    const rows = (await t.db('budget_counters').orderBy(['budget_id', 'key'])) as Counter[];
    expect(rows.map((r) => [r.budget_id, r.key, pico(r.reserved)])).toEqual([
      [ids.useCase, '', pico('0.000041')], [ids.bu, '', pico('36')], [ids.session, 's-1', pico('0.000041')], [ids.session, 's-2', 0n],
    ]);
    // The swept calls are no longer counted: a fallback or a late usage event counts them when it is written.
    expect(rows.map((r) => Number(r.calls))).toEqual([1, 1, 1, 0]);
  });
});

describe('migration 014: reservations in flight at the upgrade are carried over', () => {
  let t: TestDb;
  beforeEach(async () => {
    t = await createTestDb();
  });
  afterEach(async () => t.drop());

  it('folds per-budget rows into one row per call, and unfolds them on the way down', async () => {
    const a = (await upsertBudget(t.db, { scope: 'use_case', scopeId: 'trade-promo', limit: '100', unit: 'usd', period: 'month' })).after.id;
    const b = (await upsertBudget(t.db, { scope: 'bu', scopeId: 'marketing', limit: '100', unit: 'tokens', period: 'month' })).after.id;
    await t.db.migrate.down({ migrationSource, name: '014_reservations' });
    await t.db('budget_reservations').insert([
      { request_id: 'r1', budget_id: b, period_start: MONTH, key: '', amount: '36', expires_at: LATER },
      { request_id: 'r1', budget_id: a, period_start: MONTH, key: '', amount: '0.25', expires_at: LATER },
      { request_id: 'r2', budget_id: a, period_start: MONTH, key: '', amount: '0.5', expires_at: LATER },
    ]);

    await t.db.migrate.latest({ migrationSource });
    const rows = await reservations(t.db);
    expect(rows.map((r) => [r.request_id, r.budget_ids, r.amounts.map(pico)])).toEqual([
      ['r1', [a, b], [pico('0.25'), pico('36')]], ['r2', [a], [pico('0.5')]],
    ]);

    await t.db.migrate.down({ migrationSource, name: '014_reservations' });
    const back = (await t.db('budget_reservations').orderBy(['request_id', 'budget_id'])) as { request_id: string; budget_id: number; amount: string }[];
    expect(back.map((r) => [r.request_id, r.budget_id, pico(r.amount)])).toEqual([['r1', a, pico('0.25')], ['r1', b, pico('36')], ['r2', a, pico('0.5')]]);
  });
});
