import { describe, expect, it } from 'vitest';
import { Lease, SLICE_CALLS, toUnits, fromUnits, type BudgetRef } from '../../../src/budgets/lease-book.js';

const HARD_CAP = toUnits('1.1');
const POLICY = { headroom: 4, minShare: 0, maxShare: 0.05 };

function ref(over: Partial<BudgetRef> = {}): BudgetRef {
  return { id: 1, scope: 'use_case', scope_id: 'uc', unit: 'usd', period: 'month', limit: toUnits('100'), maxCalls: null, periodStart: new Date('2026-12-01T00:00:00Z'), key: '', ...over };
}

/** A lease as Postgres just granted it: `held` of room, the counter around it as given. */
function granted(held: string, counter: { spent?: string; reserved?: string; calls?: number; heldCalls?: number } = {}, over: Partial<BudgetRef> = {}): Lease {
  const lease = new Lease(ref(over));
  const heldCalls = counter.heldCalls ?? 0;
  lease.update({
    lease_amount: held, lease_calls: heldCalls, spent: counter.spent ?? '0',
    reserved: fromUnits(toUnits(counter.reserved ?? '0') + toUnits(held)), calls: String((counter.calls ?? 0) + heldCalls),
  }, { amount: 0n, calls: 0 }, Date.now() + 60_000);
  return lease;
}

describe('budget lease accounting', () => {
  it('admits calls while their worst cases fit in the lease, and never past it', () => {
    const lease = granted('1');
    const now = Date.now();
    expect(lease.fits(toUnits('0.4'), now)).toBe(true);
    lease.admit('a', toUnits('0.4'), now);
    lease.admit('b', toUnits('0.4'), now);
    expect(lease.fits(toUnits('0.3'), now)).toBe(false);
    expect(lease.fits(toUnits('0.2'), now)).toBe(true);
    expect(fromUnits(lease.free)).toBe('0.200000000000');
  });

  it('shows the policy others\' holds plus what this replica uses, not its own free room', () => {
    const lease = granted('1', { spent: '40', reserved: '5', calls: 10 });
    lease.admit('a', toUnits('0.25'), Date.now());
    // Before the next call: spent 40, reserved = others' 5 + this replica's 0.25 in flight.
    expect(lease.fact()).toMatchObject({ id: 1, limit: 100, spent: 40, reserved: 5.25, calls: 11 });
  });

  it('follows a call from its worst case to its cost, to the ledger, to the settlement that gives it back', () => {
    const lease = granted('1');
    lease.admit('a', toUnits('0.5'), Date.now());
    lease.shrink('a', toUnits('0.3'));
    expect(fromUnits(lease.free)).toBe('0.700000000000');
    lease.finish('a', toUnits('0.1'));
    expect(fromUnits(lease.free)).toBe('0.900000000000');
    lease.ledgered('a');
    expect(lease.written).toBe(toUnits('0.1'));
    // Free room 0.9 is more than half a slice of 1: nothing more is asked for; the ledgered 0.1 goes back.
    const s = lease.settlement({ amount: toUnits('1'), calls: SLICE_CALLS });
    expect(s).toMatchObject({ release: '0.100000000000', want: '0.000000000000' });
    // Postgres: the lease holds 0.9 now, and the counter's spent has the 0.1.
    lease.update({ lease_amount: '0.9', lease_calls: 0, spent: '0.1', reserved: '0.9', calls: '1' }, { amount: toUnits('0.1'), calls: 1 }, Date.now() + 60_000);
    expect(lease.written).toBe(0n);
    expect(fromUnits(lease.free)).toBe('0.900000000000');
    expect(lease.fact()).toMatchObject({ spent: 0.1, reserved: 0, calls: 1 });
  });

  it('asks for a slice once its free room falls below half of it, and gives all free room back when frozen', () => {
    const lease = granted('1');
    lease.admit('a', toUnits('0.7'), Date.now());
    expect(lease.settlement({ amount: toUnits('1'), calls: SLICE_CALLS })).toMatchObject({ want: '0.700000000000', release: '0.000000000000' });
    lease.frozen = true;
    expect(lease.fits(toUnits('0.01'), Date.now())).toBe(false);
    expect(lease.settlement({ amount: toUnits('1'), calls: SLICE_CALLS })).toMatchObject({ want: '0.000000000000', release: '0.300000000000' });
  });

  it('releases a denied call\'s worst case at once', () => {
    const lease = granted('1');
    lease.admit('a', toUnits('0.6'), Date.now());
    lease.release('a');
    expect(lease.free).toBe(toUnits('1'));
    expect(lease.empty).toBe(false);
  });

  it('counts calls against a session cap on calls, and admits none past the calls it holds', () => {
    const lease = granted('0', { heldCalls: 2, calls: 5 }, { scope: 'session', limit: null, maxCalls: 10, key: 's-1' });
    const now = Date.now();
    expect(lease.fits(0n, now)).toBe(true);
    lease.admit('a', 0n, now);
    lease.admit('b', 0n, now);
    expect(lease.fits(0n, now)).toBe(false);
    expect(lease.fact()).toMatchObject({ calls: 7, max_calls: 10, limit: null });
  });

  it('admits nothing once it may have expired unrenewed', () => {
    const lease = new Lease(ref());
    lease.update({ lease_amount: '1', lease_calls: 0, spent: '0', reserved: '1', calls: '0' }, { amount: 0n, calls: 0 }, Date.now() - 1);
    expect(lease.fits(toUnits('0.1'), Date.now())).toBe(false);
  });

  it('freezes near the cap and for a budget too small to slice, and thaws with twice the headroom', () => {
    // Limit 1000, cap 1100; a call of 1 makes a slice of 8 (under 5% of the cap) and a need of 32 free.
    const lease = granted('8', { spent: '1000' }, { limit: toUnits('1000') });
    lease.admit('a', toUnits('1'), Date.now());
    lease.release('a');
    const at = (spent: string) => {
      lease.update({ lease_amount: '8', lease_calls: 0, spent, reserved: '8', calls: '0' }, { amount: 0n, calls: 0 }, Date.now() + 60_000);
      lease.refreeze(HARD_CAP, POLICY);
      return lease.frozen;
    };
    expect(at('1000')).toBe(false); // room beyond holds: 1100 - 1000 - 8 = 92 >= 32
    expect(at('1070')).toBe(true); // 22 < 32
    expect(at('1040')).toBe(true); // 52: not yet twice the need
    expect(at('1020')).toBe(false); // 72 >= 64
    // A limit of 100 capped at 110: slices of 8 are more than 5% of it.
    const small = granted('0', {}, { limit: toUnits('100') });
    small.admit('b', toUnits('1'), Date.now());
    small.refreeze(HARD_CAP, POLICY);
    expect(small.frozen).toBe(true);
  });

  it('aims at two intervals of demand, at least a few calls and the least share of the cap, at most its largest share', () => {
    const lease = granted('10', {}, { limit: toUnits('1000') });
    for (let i = 0; i < 10; i++) lease.admit(`c${i}`, toUnits('0.5'), Date.now());
    // 5 of demand in 1 s; a slice covers two 1 s intervals: 10.
    expect(fromUnits(lease.target(1000, 1000, HARD_CAP, POLICY).amount)).toBe('10.000000000000');
    // Nothing since: at least SLICE_CALLS calls like the last one.
    expect(fromUnits(lease.target(1000, 1000, HARD_CAP, POLICY).amount)).toBe('4.000000000000');
    // At least 1% of the cap (1,100): 11; at most 5%: 55.
    expect(fromUnits(lease.target(1000, 1000, HARD_CAP, { ...POLICY, minShare: 0.01 }).amount)).toBe('11.000000000000');
    for (let i = 0; i < 200; i++) lease.admit(`d${i}`, toUnits('0.5'), Date.now());
    expect(fromUnits(lease.target(1000, 1000, HARD_CAP, POLICY).amount)).toBe('55.000000000000');
    // A session cap on calls: at least 8 calls, at most 5% of them.
    const calls = granted('0', { heldCalls: 8 }, { scope: 'session', limit: null, maxCalls: 500, key: 's' });
    expect(calls.target(1000, 1000, HARD_CAP, { ...POLICY, minShare: 0.04 })).toEqual({ amount: 0n, calls: 20 });
    expect(calls.target(1000, 1000, HARD_CAP, POLICY).calls).toBe(8);
  });
});
