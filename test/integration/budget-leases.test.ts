import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { reserveBudgets, upsertBudget } from '../../src/db/budgets.js';
import { acquireLeases, releaseHolderLeases, settleLeases, sweepExpiredLeases, type LeaseRequest, type Settlement } from '../../src/db/leases.js';
import { writeBatch } from '../../src/db/ledger.js';
import { migrationSource } from '../../src/db/migrations/index.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

const AT = new Date('2025-03-10T12:00:00.000Z');
const MONTH = new Date('2025-03-01T00:00:00.000Z');
const DAY = new Date('2025-03-10T00:00:00.000Z');
/** An expiry well ahead, computed when used (a slow machine can take a minute over this file). */
const later = () => new Date(Date.now() + 600_000);
const POLICY = { headroom: 4, hardCap: 1.1, minShare: 0, maxShare: 0.05 };

const pico = (v: string | number) => BigInt(Math.round(Number(v) * 1e12));

function request(holder: string, over: Partial<LeaseRequest> = {}): LeaseRequest {
  return { holder, at: AT, expiresAt: later(), bu: 'marketing', useCase: 'trade-promo', agent: 'promo-agent', session: 's-1', usd: '1', tokens: '1000', calls: 8, ...over };
}

function settlement(budgetId: number, periodStart: Date, over: Partial<Settlement> = {}): Settlement {
  return { budgetId, periodStart, key: '', release: '0', releaseCalls: 0, want: '0', wantCalls: 0, ...over };
}

async function counter(db: Db, budgetId: number, key = '') {
  const row = (await db('budget_counters').where({ budget_id: budgetId, key }).first()) as { spent: string; reserved: string; calls: string };
  return { spent: pico(row.spent), reserved: pico(row.reserved), calls: Number(row.calls) };
}

async function leases(db: Db) {
  const rows = (await db('budget_leases').orderBy(['budget_id', 'key', 'holder'])) as { budget_id: number; key: string; holder: string; amount: string; calls: number }[];
  return rows.map((r) => ({ budget: r.budget_id, key: r.key, holder: r.holder, amount: pico(r.amount), calls: Number(r.calls) }));
}

describe('budget leases in Postgres', () => {
  let t: TestDb;
  let ids: { useCase: number; bu: number; session: number };

  beforeEach(async () => {
    t = await createTestDb();
    const useCase = await upsertBudget(t.db, { scope: 'use_case', scopeId: 'trade-promo', limit: '100', unit: 'usd', period: 'month' });
    const bu = await upsertBudget(t.db, { scope: 'bu', scopeId: 'marketing', limit: '1000000', unit: 'tokens', period: 'month' });
    const session = await upsertBudget(t.db, { scope: 'session', scopeId: '*', limit: '50', unit: 'usd', period: 'day', maxCalls: 200 });
    ids = { useCase: useCase.after.id, bu: bu.after.id, session: session.after.id };
  });
  afterEach(async () => t.drop());

  it('grants a slice of every applicable budget and counts it as reserved', async () => {
    const rows = await acquireLeases(t.db, request('r1'), POLICY);
    expect(rows.map((r) => [r.id, r.scope, r.key, pico(r.granted), r.granted_calls])).toEqual([
      [ids.useCase, 'use_case', '', pico(1), 0],
      [ids.bu, 'bu', '', pico(1000), 0],
      [ids.session, 'session', 's-1', pico(1), 8],
    ]);
    expect(await leases(t.db)).toEqual([
      { budget: ids.useCase, key: '', holder: 'r1', amount: pico(1), calls: 0 },
      { budget: ids.bu, key: '', holder: 'r1', amount: pico(1000), calls: 0 },
      { budget: ids.session, key: 's-1', holder: 'r1', amount: pico(1), calls: 8 },
    ]);
    expect(await counter(t.db, ids.useCase)).toEqual({ spent: 0n, reserved: pico(1), calls: 0 });
    expect(await counter(t.db, ids.session, 's-1')).toEqual({ spent: 0n, reserved: pico(1), calls: 8 });
    // A second replica's grant sees the first's lease as taken, and adds its own.
    const second = await acquireLeases(t.db, request('r2'), POLICY);
    expect(second.find((r) => r.id === ids.useCase)).toMatchObject({ lease_amount: expect.anything() });
    expect(pico(second.find((r) => r.id === ids.useCase)!.reserved)).toBe(pico(2));
    expect((await counter(t.db, ids.useCase)).reserved).toBe(pico(2));
  });

  it('takes leases on the budgets asked for only, and leaves the others\' counter rows alone', async () => {
    await acquireLeases(t.db, request('r1'), POLICY);
    const before = { useCase: await counter(t.db, ids.useCase), bu: await counter(t.db, ids.bu) };
    // A new session on a replica that holds the use case's and the BU's leases asks for the session's alone.
    const ask = () => acquireLeases(t.db, request('r1', { session: 's-2', only: [ids.session] }), POLICY);
    let rows: Awaited<ReturnType<typeof acquireLeases>>;
    if (TEST_DB_KIND === 'postgres') {
      // The ledger writer holds the use case's counter row until its transaction commits: the session's lease
      // must not wait for it (it used to, locking every applicable budget's row).
      const writer = await t.db.transaction();
      try {
        await writer.raw('select * from budget_counters where budget_id = ? for update', [ids.useCase]);
        const waited = new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 5000).unref());
        const got = await Promise.race([ask(), waited]);
        expect(got, 'the acquisition waited for the use case\'s counter row').not.toBe('blocked');
        rows = got as Awaited<ReturnType<typeof acquireLeases>>;
      } finally {
        await writer.rollback();
      }
    } else {
      rows = await ask();
    }
    expect(rows.map((r) => [r.id, r.key, pico(r.granted), r.granted_calls])).toEqual([[ids.session, 's-2', pico(1), 8]]);
    expect(await counter(t.db, ids.session, 's-2')).toEqual({ spent: 0n, reserved: pico(1), calls: 8 });
    expect({ useCase: await counter(t.db, ids.useCase), bu: await counter(t.db, ids.bu) }).toEqual(before);
    // Without `only`, every applicable budget, as before.
    expect((await acquireLeases(t.db, request('r1', { session: 's-3' }), POLICY)).map((r) => r.id)).toEqual([ids.useCase, ids.bu, ids.session]);
  });

  it('grants a new session\'s lease with its counter row, also when replicas ask for it at once', async () => {
    // Five replicas, two asks each, for a session none of them has seen: the first creates the counter row with its
    // grant, the others find it (on Postgres, after waiting for that insert to commit) and add theirs to it.
    const holders = ['r1', 'r2', 'r3', 'r4', 'r5'];
    const asks = holders.flatMap((h) => [h, h]).map((h) => acquireLeases(t.db, request(h, { session: 's-new', only: [ids.session] }), POLICY));
    const answers = (await Promise.all(asks)).map((rows) => rows.find((r) => r.id === ids.session)!);
    const held = (await leases(t.db)).filter((l) => l.key === 's-new');
    // Each replica holds at most the largest share: $2.5 (5% of 50) and 10 calls (5% of 200), in grants of $1 and 8 calls.
    expect(held.map((l) => [l.holder, l.amount, l.calls])).toEqual(holders.map((h) => [h, pico(2), 10]));
    expect(answers.reduce((s, a) => s + pico(a.granted), 0n)).toBe(pico(10));
    expect(answers.reduce((s, a) => s + a.granted_calls, 0)).toBe(50);
    // The counter row counts every lease, and the answers saw it as it stood after their own grant.
    expect(await counter(t.db, ids.session, 's-new')).toEqual({ spent: 0n, reserved: pico(10), calls: 50 });
    for (const a of answers) expect(pico(a.reserved)).toBeGreaterThanOrEqual(pico(a.lease_amount));
    expect(Math.max(...answers.map((a) => Number(a.calls)))).toBe(50);
  });

  it('creates a new counter row empty where a budget is too small to slice', async () => {
    // Cap $3: a slice of $1 needs 4 × $1 of room; 200 calls allow 8 × 4. The calls are granted, the amount not.
    await upsertBudget(t.db, { scope: 'session', scopeId: '*', limit: '3', unit: 'usd', period: 'day', maxCalls: 200 });
    const [row] = await acquireLeases(t.db, request('r1', { session: 's-small', only: [ids.session] }), POLICY);
    expect([pico(row!.granted), row!.granted_calls, pico(row!.reserved), Number(row!.calls)]).toEqual([0n, 8, 0n, 8]);
    expect(await counter(t.db, ids.session, 's-small')).toEqual({ spent: 0n, reserved: 0n, calls: 8 });
    await upsertBudget(t.db, { scope: 'session', scopeId: '*', limit: '3', unit: 'usd', period: 'day', maxCalls: 20 });
    // 20 calls: 4 × 8 is more than the cap allows, so nothing at all; the row is there, empty.
    const [none] = await acquireLeases(t.db, request('r1', { session: 's-none', only: [ids.session] }), POLICY);
    expect([pico(none!.granted), none!.granted_calls]).toEqual([0n, 0]);
    expect(await counter(t.db, ids.session, 's-none')).toEqual({ spent: 0n, reserved: 0n, calls: 0 });
    expect((await leases(t.db)).filter((l) => l.key === 's-none')).toEqual([]);
  });

  it('grants nothing where the room left is under the headroom, and cuts a slice to the largest share', async () => {
    // Cap 110: a slice of 6 is more than 5% of it (5.5), and is cut to that; the lease is then full.
    expect(pico((await acquireLeases(t.db, request('r1', { usd: '6' }), POLICY)).find((r) => r.id === ids.useCase)!.granted)).toBe(pico(5.5));
    expect(pico((await acquireLeases(t.db, request('r1', { usd: '1' }), POLICY)).find((r) => r.id === ids.useCase)!.granted)).toBe(0n);
    // Spend 95: room 110 - 95 - 5.5 = 9.5.
    await writeBatch(t.db, [usageEvent(1, { cost: '95', session_id: 'other' })]);
    const near = await acquireLeases(t.db, request('r2', { usd: '3' }), POLICY);
    expect(pico(near.find((r) => r.id === ids.useCase)!.granted)).toBe(0n); // 9.5 < 4 × 3
    expect(pico((await acquireLeases(t.db, request('r3', { usd: '2' }), POLICY)).find((r) => r.id === ids.useCase)!.granted)).toBe(pico(2)); // 9.5 ≥ 4 × 2
    expect(pico((await acquireLeases(t.db, request('r4', { usd: '2' }), POLICY)).find((r) => r.id === ids.useCase)!.granted)).toBe(0n); // 7.5 < 4 × 2
  });

  it('cuts a grant of calls to the largest share too', async () => {
    // The session cap's 200 calls allow 10 held by one replica: 8, then the 2 left of 8 more, then none.
    const calls = async () => (await acquireLeases(t.db, request('r1', { calls: 8 }), POLICY)).find((r) => r.id === ids.session)!.granted_calls;
    expect([await calls(), await calls(), await calls()]).toEqual([8, 2, 0]);
    expect(await counter(t.db, ids.session, 's-1')).toMatchObject({ calls: 10 });
  });

  it('tops a busy lease up to the largest share when it settles, however much of it calls still hold', async () => {
    await acquireLeases(t.db, request('r1', { usd: '5' }), POLICY);
    // Calls in flight hold all 5; the replica asks for 5 more: it gets the 0.5 the share (5.5) leaves.
    const rows = await settleLeases(t.db, 'r1', later(), [settlement(ids.useCase, MONTH, { want: '5' })], POLICY);
    expect(pico(rows[0]!.lease_amount)).toBe(pico(5.5));
    expect((await counter(t.db, ids.useCase)).reserved).toBe(pico(5.5));
  });

  it('settles: gives back what the ledger counts and the room no longer wanted, tops up, renews, drops what is empty', async () => {
    await acquireLeases(t.db, request('r1'), POLICY);
    // The replica's calls spent 0.25 (now in the ledger and the counter's spent).
    await writeBatch(t.db, [usageEvent(2, { cost: '0.25', session_id: 's-1' })]);
    expect(await counter(t.db, ids.useCase)).toMatchObject({ spent: pico(0.25), reserved: pico(1) });
    const renewed = later();
    const rows = await settleLeases(t.db, 'r1', renewed, [
      settlement(ids.useCase, MONTH, { release: '0.25', want: '2' }),
      settlement(ids.bu, MONTH, { release: '1000' }),
      settlement(ids.session, DAY, { key: 's-1', release: '0.5', releaseCalls: 3, wantCalls: 1 }),
    ], POLICY);
    expect(rows.map((r) => [r.id, pico(r.lease_amount), r.lease_calls])).toEqual([
      [ids.useCase, pico(2.75), 0], [ids.bu, 0n, 0], [ids.session, pico(0.5), 6],
    ]);
    expect(await counter(t.db, ids.useCase)).toMatchObject({ spent: pico(0.25), reserved: pico(2.75) });
    expect(await counter(t.db, ids.bu)).toMatchObject({ reserved: 0n });
    const held = await leases(t.db);
    expect(held.map((l) => l.budget)).toEqual([ids.useCase, ids.session]);
    const expiries = (await t.db('budget_leases').pluck('expires_at')) as Date[];
    expect(expiries.every((e) => new Date(e).getTime() === renewed.getTime())).toBe(true);
  });

  it('never gives back more than a lease holds, and forgets a lease that was swept', async () => {
    await acquireLeases(t.db, request('r1'), POLICY);
    const rows = await settleLeases(t.db, 'r1', later(), [settlement(ids.useCase, MONTH, { release: '5' })], POLICY);
    expect(rows).toHaveLength(1);
    expect(pico(rows[0]!.lease_amount)).toBe(0n);
    expect((await counter(t.db, ids.useCase)).reserved).toBe(0n);
    expect(await settleLeases(t.db, 'r1', later(), [settlement(ids.useCase, MONTH, { release: '1' })], POLICY)).toEqual([]);
  });

  it('sweeps the leases of a replica that stopped settling, and only those', async () => {
    await acquireLeases(t.db, request('dead', { expiresAt: new Date(Date.now() - 1000) }), POLICY);
    await acquireLeases(t.db, request('alive'), POLICY);
    await sweepExpiredLeases(t.db);
    expect(new Set((await leases(t.db)).map((l) => l.holder))).toEqual(new Set(['alive']));
    expect(await counter(t.db, ids.useCase)).toMatchObject({ reserved: pico(1) });
    expect(await counter(t.db, ids.session, 's-1')).toMatchObject({ reserved: pico(1), calls: 8 });
  });

  it('gives back every row of a stopping replica whole, and only its own', async () => {
    await acquireLeases(t.db, request('stopping'), POLICY);
    await acquireLeases(t.db, request('other', { session: 's-2' }), POLICY);
    // A settlement that took more room, as one whose answer the replica never got would have.
    await settleLeases(t.db, 'stopping', later(), [settlement(ids.useCase, MONTH, { want: '2' })], POLICY);
    expect(await releaseHolderLeases(t.db, 'stopping')).toBeGreaterThan(0);
    expect(new Set((await leases(t.db)).map((l) => l.holder))).toEqual(new Set(['other']));
    expect(await counter(t.db, ids.useCase)).toMatchObject({ reserved: pico(1) });
    expect(await counter(t.db, ids.session, 's-1')).toMatchObject({ reserved: 0n, calls: 0 });
    expect(await counter(t.db, ids.session, 's-2')).toMatchObject({ reserved: pico(1), calls: 8 });
  });

  it('counts leases in what an exact reservation sees as reserved by others', async () => {
    await acquireLeases(t.db, request('r1'), POLICY);
    const exact = await reserveBudgets(t.db, { requestId: 'x', at: AT, bu: 'marketing', useCase: 'trade-promo', agent: 'promo-agent', session: 's-1', cost: '0.1', tokens: 10, expiresAt: later() });
    expect(pico(exact.find((b) => b.id === ids.useCase)!.reserved_before)).toBe(pico(1));
    expect(exact.find((b) => b.id === ids.session)!.calls_before).toBe(8);
  });

  it('gives leased room back on the way down', async () => {
    await acquireLeases(t.db, request('r1'), POLICY);
    const m = await migrationSource.getMigrations([]);
    const leasesMigration = m.find((x) => migrationSource.getMigrationName(x) === '031_budget_leases')!;
    await leasesMigration.down(t.db);
    expect(await counter(t.db, ids.useCase)).toMatchObject({ reserved: 0n, calls: 0 });
    expect(await counter(t.db, ids.session, 's-1')).toMatchObject({ reserved: 0n, calls: 0 });
    await leasesMigration.up(t.db);
  });
});
