import type { BudgetFact, BudgetScope } from '../policy/types.js';
import type { BudgetPeriod, BudgetUnit } from '../db/budgets.js';
import type { Settlement, SettledLease } from '../db/leases.js';
import { formatDecimal, MONEY_SCALE, parseDecimal, rescale } from '../metering/money.js';

/**
 * A replica's budget leases, in memory: how much of each budget's room it holds (as Postgres counts it), what
 * the calls it admitted against that room may still cost (live: their worst case), what finished calls cost
 * that the ledger does not have yet (unwritten), and what the ledger has since the last settlement (written,
 * still inside the lease until the settlement gives it back). A call is admitted here, without a statement,
 * when each budget it falls under has a lease with room for its worst case; so the calls a replica admits never
 * take more than its leases hold, and leases never hold more than the caps leave (Postgres grants them).
 *
 * Amounts are exact: bigint counts of 10^-12 of the budget's unit (USD or tokens), as the counters keep them.
 */

export type Units = bigint;
export const UNIT = 10n ** BigInt(MONEY_SCALE);

/** Exact decimal text (a cost, a counter) → units. */
export function toUnits(text: string | number): Units {
  return rescale(parseDecimal(String(text)), MONEY_SCALE).units;
}

export function fromUnits(units: Units): string {
  return formatDecimal({ units, scale: MONEY_SCALE });
}

const toNumber = (units: Units) => Number(units) / 1e12;

/** A new lease, and the least a lease tops up to, is room for this many calls like the last one. */
export const SLICE_CALLS = 8;

/** See LEASE_POLICY (src/budgets/gate.ts). */
export type SlicePolicy = { headroom: number; minShare: number; maxShare: number };

const max = (...xs: Units[]) => xs.reduce((a, b) => (a > b ? a : b));
const min = (a: Units, b: Units) => (a < b ? a : b);
/** `share` (a number such as 0.05) of an amount, exactly enough for a slice. */
const share = (amount: Units, s: number) => (amount * BigInt(Math.round(s * 1e6))) / 1_000_000n;

/** One budget a call falls under, in the period of the call and (for sessions) its session. */
export type BudgetRef = {
  id: number; scope: BudgetScope; scope_id: string; unit: BudgetUnit; period: BudgetPeriod;
  limit: Units | null; maxCalls: number | null; periodStart: Date; key: string;
};

export const leaseKey = (r: { id: number; periodStart: Date; key: string }) => `${r.id}|${r.periodStart.getTime()}|${r.key}`;

export class Lease {
  held: Units = 0n;
  heldCalls = 0;
  readonly live = new Map<string, Units>();
  liveSum: Units = 0n;
  readonly unwritten = new Map<string, Units>();
  unwrittenSum: Units = 0n;
  written: Units = 0n;
  writtenCalls = 0;
  /** The counter row without this lease, as Postgres last said (spent, and what others reserve and count). */
  spent: Units = 0n;
  others: Units = 0n;
  othersCalls = 0;
  /** Near the cap: admits nothing more, and gives its free room back at the next settlement. */
  frozen = false;
  /** Worst cases and calls admitted since the last settlement (they size the next slice), the last worst case, and when. */
  demand: Units = 0n;
  demandCalls = 0;
  lastWorst: Units = 0n;
  lastUsed = 0;
  /** After this, Postgres may have swept the lease (it was not renewed): it admits nothing more. */
  usableUntil = 0;

  /** The period's start as the fact gives it, for the ref's current Date (read at every call admitted). */
  #periodText: { of: Date; text: string } | undefined;

  constructor(public ref: BudgetRef) {}

  get used(): Units {
    return this.liveSum + this.unwrittenSum + this.written;
  }

  get free(): Units {
    return this.held - this.used;
  }

  get usedCalls(): number {
    return this.live.size + this.unwritten.size + this.writtenCalls;
  }

  get capsCalls(): boolean {
    return this.ref.maxCalls !== null;
  }

  /** Whether the lease may admit calls now (not frozen, not about to expire unrenewed). */
  usable(now: number): boolean {
    return !this.frozen && now < this.usableUntil;
  }

  /** Whether a call of `worst` (in this budget's unit) fits in the lease now. */
  fits(worst: Units, now: number): boolean {
    if (this.frozen || now >= this.usableUntil) return false;
    if (this.ref.limit !== null && worst > this.free) return false;
    return !this.capsCalls || this.heldCalls - this.usedCalls >= 1;
  }

  /** The budget as the policy sees it before a call admitted here: this replica's free room is not taken. */
  fact(): BudgetFact {
    const r = this.ref;
    if (this.#periodText?.of !== r.periodStart) this.#periodText = { of: r.periodStart, text: r.periodStart.toISOString() };
    return {
      id: r.id, scope: r.scope, scope_id: r.scope_id, unit: r.unit, limit: r.limit === null ? null : toNumber(r.limit),
      max_calls: r.maxCalls, period: r.period, period_start: this.#periodText.text,
      spent: toNumber(this.spent), reserved: toNumber(this.others + this.used), calls: this.othersCalls + this.usedCalls,
    };
  }

  admit(requestId: string, worst: Units, now: number): void {
    this.live.set(requestId, worst);
    this.liveSum += worst;
    this.demand += worst;
    this.demandCalls++;
    this.lastWorst = worst;
    this.lastUsed = now;
  }

  /** The call's worst case became smaller (clamped, served by a cheaper model), or it was denied (0 and gone). */
  shrink(requestId: string, worst: Units): void {
    const before = this.live.get(requestId);
    if (before === undefined || worst >= before) return;
    this.live.set(requestId, worst);
    this.liveSum -= before - worst;
  }

  release(requestId: string): void {
    const before = this.live.get(requestId);
    if (before === undefined) return;
    this.live.delete(requestId);
    this.liveSum -= before;
  }

  finish(requestId: string, actual: Units): void {
    this.release(requestId);
    this.unwritten.set(requestId, actual);
    this.unwrittenSum += actual;
  }

  /** The ledger has the call's usage now (its counters count it): it waits in `written` for the settlement. */
  ledgered(requestId: string): void {
    const actual = this.unwritten.get(requestId);
    if (actual === undefined) return;
    this.unwritten.delete(requestId);
    this.unwrittenSum -= actual;
    this.written += actual;
    this.writtenCalls++;
  }

  /**
   * The free room this lease aims to hold: about two settlement intervals of this replica's demand, at least a
   * few calls like the last one and `minShare` of the cap, at most `maxShare` of it (in calls likewise, where
   * the budget caps calls). Reading it starts the next interval's demand.
   */
  target(elapsedMs: number, settleMs: number, hardCap: Units, p: SlicePolicy): { amount: Units; calls: number } {
    const perInterval = (this.demand * BigInt(2 * settleMs)) / BigInt(Math.max(1, elapsedMs));
    const callsPerInterval = Math.ceil((this.demandCalls * 2 * settleMs) / Math.max(1, elapsedMs));
    this.demand = 0n;
    this.demandCalls = 0;
    const cap = this.cap(hardCap);
    const amount = cap === null ? 0n : min(max(perInterval, this.lastWorst * BigInt(SLICE_CALLS), share(cap, p.minShare)), share(cap, p.maxShare));
    const maxCalls = this.ref.maxCalls;
    const calls = maxCalls === null ? 0 : Math.min(Math.max(callsPerInterval, SLICE_CALLS, Math.floor(maxCalls * p.minShare)), Math.floor(maxCalls * p.maxShare));
    return { amount, calls };
  }

  /**
   * What to tell Postgres: give back what the ledger now counts (and, frozen, all free room), and ask for what
   * brings the free room back to the target once it has fallen below half of it.
   */
  settlement(target: { amount: Units; calls: number }): Settlement {
    const free = this.free > 0n ? this.free : 0n;
    const freeCalls = Math.max(0, this.heldCalls - this.usedCalls);
    const release = this.written + (this.frozen ? free : 0n);
    const releaseCalls = this.capsCalls ? this.writtenCalls + (this.frozen ? freeCalls : 0) : 0;
    const want = this.frozen || free * 2n >= target.amount ? 0n : target.amount - free;
    const wantCalls = this.frozen || !this.capsCalls || freeCalls * 2 >= target.calls ? 0 : target.calls - freeCalls;
    return {
      budgetId: this.ref.id, periodStart: this.ref.periodStart, key: this.ref.key,
      release: fromUnits(release), releaseCalls, want: fromUnits(want), wantCalls,
    };
  }

  /** Whether the next settlement has anything to do for this lease: room to give back or to ask for. */
  wants(target: { amount: Units; calls: number }): boolean {
    if (this.frozen) return this.held > 0n || this.heldCalls > 0 || this.written > 0n;
    const free = this.free > 0n ? this.free : 0n;
    if (this.ref.limit !== null && free * 2n < target.amount) return true;
    return this.capsCalls && (this.heldCalls - this.usedCalls) * 2 < target.calls;
  }

  /**
   * Near the cap a lease stops admitting (calls reserve exactly, and its free room goes back): when the room
   * beyond every hold is under `headroom` slices, or a budget cannot hold a few calls like the last one within
   * `maxShare` of its cap (too small to slice). It admits again once the room is twice that.
   */
  refreeze(hardCap: Units, p: SlicePolicy): void {
    const cap = this.cap(hardCap);
    if (cap === null) {
      this.frozen = false;
      return;
    }
    const room = cap - this.spent - this.others - this.held;
    const few = this.lastWorst * BigInt(SLICE_CALLS);
    const slice = max(few, share(cap, p.minShare));
    const need = slice * BigInt(p.headroom);
    if (few > share(cap, p.maxShare) || room < need) this.frozen = true;
    else if (room >= 2n * need) this.frozen = false;
  }

  /** Postgres' answer to a settlement (or an acquisition): what the lease holds now and the counter around it. */
  update(row: Pick<SettledLease, 'spent' | 'reserved' | 'calls' | 'lease_amount' | 'lease_calls'>, released: { amount: Units; calls: number }, usableUntil: number): void {
    this.written -= released.amount;
    this.writtenCalls -= released.calls;
    this.held = toUnits(row.lease_amount);
    this.heldCalls = row.lease_calls;
    this.spent = toUnits(row.spent);
    this.others = toUnits(row.reserved) - this.held;
    this.othersCalls = Number(row.calls) - this.heldCalls;
    this.usableUntil = usableUntil;
  }

  /** The amount the budget may not pass (its limit times the hard-cap ratio; a session cap's limit), or null. */
  cap(hardCap: Units): Units | null {
    if (this.ref.limit === null) return null;
    return this.ref.scope === 'session' ? this.ref.limit : (this.ref.limit * hardCap) / UNIT;
  }

  get empty(): boolean {
    return this.held === 0n && this.heldCalls === 0 && this.live.size === 0 && this.unwritten.size === 0 && this.written === 0n;
  }
}
