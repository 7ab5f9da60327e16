import crypto from 'node:crypto';
import type { Db } from '../db/knex.js';
import { releaseDenied, reserveBudgets, shrinkReservation, sweepExpiredReservations, type ReservationSubject, type ReservedBudget } from '../db/budgets.js';
import { acquireLeases, budgetDefinitions, BUDGETS_CHANNEL, releaseHolderLeases, settleLeases, sweepExpiredLeases, type BudgetDefinition, type LeasePolicy, type Settlement } from '../db/leases.js';
import { listen } from '../db/tier-channel.js';
import type { BudgetFact } from '../policy/types.js';
import type { JournalRecord, UsageEvent } from '../metering/types.js';
import { Lease, leaseKey, SLICE_CALLS, toUnits, UNIT, fromUnits, type BudgetRef, type Units } from './lease-book.js';
import { periodStartOf } from './period.js';

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

export type BudgetState = { budgets: BudgetFact[]; available: boolean; reserved: boolean };

export type BudgetGateOptions = {
  reservationTtlMs: number;
  /** How often leases are settled; 0 turns leases off (every call reserves exactly, in Postgres). */
  leaseSettleMs: number;
  /** How long a lease outlives a replica that stopped settling it. */
  leaseTtlMs: number;
  /** The policy's hard-cap ratio (1.1 by default): leases never hold room past it. */
  hardCap: () => number;
  /** How often the metering writer flushes: room a finished call held comes back once its usage is written. */
  flushIntervalMs?: number;
};

/** A busy call is told to come back after at most this long (the official SDKs wait up to a minute). */
const MAX_BUSY_RETRY_MS = 30_000;
/** Weight of each new call's length in the running average. */
const LATENCY_WEIGHT = 0.1;

/** The statements the gate sends Postgres, by kind (tollgate_budget_statements_total): per-call ones are reserve, shrink and release. */
export type BudgetStatementKind = 'reserve' | 'shrink' | 'release' | 'acquire' | 'settle' | 'sweep';

type Known = { fact: BudgetFact; useCase: string; bu: string; agent: string; session: string };
type Worst = { usd: Units; tokens: Units };

/**
 * Leases are granted where the room left is `headroom` times the slice; a slice is at least `minShare` of the cap
 * and at most `maxShare` of it (a budget that cannot hold a few calls within that is not sliced).
 */
export const LEASE_POLICY = Object.freeze({ headroom: 4, minShare: 0.01, maxShare: 0.05 });
/** Use case, BU and agent sets whose applicable budgets are kept parsed; past this many the set starts again. */
const MAX_SUBJECTS = 10_000;
/** A lease nobody used for this long is given back. */
const IDLE_MS = 10_000;

/**
 * The hot path's side of budgets. Postgres is the coordinator, and a replica asks it as rarely as it can:
 * it holds leases (slices of each budget's room, src/budgets/lease-book.ts) and admits a call in memory when
 * every budget the call falls under has a lease with room for its worst case; leases are settled with one
 * statement a second. A call that does not fit (a new session on this replica, a lease running dry) takes or
 * tops up its leases with one statement; near a cap, where slices would strand room other replicas need, and
 * under budgets too small to slice, leases are frozen and given back and each call reserves its worst case
 * exactly, as before. Either way the room a replica admits calls against is room Postgres counted as taken, so
 * calls admitted by all replicas together never pass a cap on their worst cases.
 * When Postgres cannot be reached the state is marked unavailable and the policy chooses, per use case, to fail
 * closed or open; open runs on the last state this replica saw plus what it metered since.
 */
export class BudgetGate {
  private readonly holder = crypto.randomUUID();
  private definitions: Map<string, BudgetDefinition[]> | null = null;
  /** The definitions that apply to a use case, BU and agent, by id, with their limits parsed (see `applicable`). */
  private readonly applicableBySubject = new Map<string, (BudgetDefinition & { limit: Units | null })[]>();
  private readonly leases = new Map<string, Lease>();
  /** This replica asked for a lease at least once: at stop, its rows are given back whole. */
  private leasesUsed = false;
  /** Calls in flight admitted against leases, and finished ones whose usage the ledger does not have yet. */
  private readonly leased = new Map<string, { leases: Lease[]; finished: boolean }>();
  private readonly known = new Map<number, Known>();
  private readonly localSince = new Map<number, { cost: number; tokens: number; calls: number }>();
  private degraded = false;
  private timers: NodeJS.Timeout[] = [];
  private settling: Promise<void> | null = null;
  private lastSettledAt = Date.now();
  private version = 0;
  private unlisten?: () => Promise<void>;
  /** A running average of the length of this replica's recent calls, in ms (0 before the first). */
  private latencyMs = 0;
  /** Statements sent to Postgres since start, by kind. */
  readonly statements: Record<BudgetStatementKind, number> = { reserve: 0, shrink: 0, release: 0, acquire: 0, settle: 0, sweep: 0 };

  constructor(private readonly db: Db, private readonly log: Log, private readonly opts: BudgetGateOptions) {}

  async reserve(subject: Omit<ReservationSubject, 'expiresAt'>): Promise<BudgetState> {
    const s: ReservationSubject = { ...subject, expiresAt: new Date(subject.at.getTime() + this.opts.reservationTtlMs) };
    try {
      const state = this.opts.leaseSettleMs > 0 ? await this.reserveLeased(s) : await this.reserveExactly(s);
      this.recovered();
      return state;
    } catch (err) {
      if (!this.degraded) this.log.warn({ err }, 'budget state unavailable; the policy decides per use case whether to fail open or closed');
      this.degraded = true;
      return { budgets: this.lastKnown(s), available: false, reserved: false };
    }
  }

  /**
   * When a call refused as busy may find room: the room calls in flight hold comes back as they finish and their
   * usage is written, so after about a recent call's length plus a metering flush (at most MAX_BUSY_RETRY_MS).
   * Told one second whatever the load, SDK retries came back while the same calls still held the room, and a
   * burst under load ended refused busy with spend below the limit.
   */
  busyRetryAfterMs(): number {
    return Math.min(MAX_BUSY_RETRY_MS, Math.ceil(this.latencyMs + (this.opts.flushIntervalMs ?? 0)));
  }

  /** A denied call gives its reservation back now; failing that, the expiry sweep does it later. */
  release(requestId: string): void {
    const call = this.leased.get(requestId);
    if (call) {
      for (const lease of call.leases) lease.release(requestId);
      this.leased.delete(requestId);
      return;
    }
    this.statements.release++;
    releaseDenied(this.db, requestId).catch((err: unknown) => this.log.warn({ err, request_id: requestId }, 'reservation release failed; it will expire'));
  }

  /** After the decision: an allowed call that will cost less than reserved (clamped, downgraded) gives back the rest. */
  shrink(requestId: string, worst: { cost: string; tokens: number }): void {
    const call = this.leased.get(requestId);
    if (call) {
      const w = worstOf(worst);
      for (const lease of call.leases) lease.shrink(requestId, amountFor(lease, w));
      return;
    }
    this.statements.shrink++;
    shrinkReservation(this.db, requestId, worst).catch((err: unknown) => this.log.warn({ err, request_id: requestId }, 'reservation shrink failed; the reservation stays as it was'));
  }

  /**
   * A call's usage was journaled. A leased call's cost moves from its worst case to what it cost, held until the
   * ledger has it (see `ledgered`). While degraded, calls count locally too, so that failing open still has a
   * cap; reserved calls count as well (their reservations are in the last known state of some budgets and not
   * others, and counting a call twice is the safe side here).
   */
  metered(ev: UsageEvent): void {
    // A long stream counts as no longer than the longest wait a busy call is told.
    const latency = Math.min(ev.latency_ms, MAX_BUSY_RETRY_MS);
    this.latencyMs = this.latencyMs === 0 ? latency : this.latencyMs + (latency - this.latencyMs) * LATENCY_WEIGHT;
    const call = this.leased.get(ev.request_id);
    if (call && !call.finished) {
      const actual = worstOf({ cost: ev.cost, tokens: tokensOf(ev) });
      for (const lease of call.leases) lease.finish(ev.request_id, amountFor(lease, actual));
      call.finished = true;
    }
    if (!this.degraded) return;
    for (const [id, k] of this.known) {
      if (!applies(k, ev)) continue;
      const cur = this.localSince.get(id) ?? { cost: 0, tokens: 0, calls: 0 };
      this.localSince.set(id, { cost: cur.cost + Number(ev.cost), tokens: cur.tokens + tokensOf(ev), calls: cur.calls + 1 });
    }
  }

  /** The meter wrote these records to the ledger: the spend of leased calls among them is counted there now. */
  ledgered(records: readonly JournalRecord[]): void {
    for (const r of records) {
      if (r.kind !== 'usage') continue;
      const call = this.leased.get(r.request_id);
      if (!call?.finished) continue;
      for (const lease of call.leases) lease.ledgered(r.request_id);
      this.leased.delete(r.request_id);
    }
  }

  /** How many times this replica has reloaded the budgets' definitions after a change (tests wait on it). */
  get budgetsVersion(): number {
    return this.version;
  }

  start(sweepMs: number): void {
    const every = (ms: number, run: () => Promise<unknown>) => {
      const t = setInterval(() => void run().catch(() => {}), ms);
      t.unref();
      this.timers.push(t);
    };
    every(sweepMs, async () => {
      this.statements.sweep += 2;
      const [n, leases] = await Promise.all([sweepExpiredReservations(this.db), sweepExpiredLeases(this.db)]);
      if (n + leases > 0) this.log.info({ reservations: n, leases }, 'expired budget reservations and leases released');
    });
    if (this.opts.leaseSettleMs <= 0) return;
    every(this.opts.leaseSettleMs, () => this.settle(false));
    // A change to any budget is announced when it commits; reloading now and then as well covers a listener
    // that was reconnecting when one was sent.
    every(60_000, () => this.budgetsChanged());
    this.listenForChanges();
  }

  /** Starts listening for budget changes; a listener that cannot connect now tries again (the minute reload covers the gap). */
  private listenForChanges(): void {
    if (this.timers.length === 0) return; // stopped
    listen(this.db, BUDGETS_CHANNEL, () => void this.budgetsChanged().catch(() => {}), this.log).then(
      (stop) => {
        this.unlisten = stop;
      },
      (err: unknown) => {
        this.log.warn({ err }, 'cannot listen for budget changes yet; trying again');
        const retry = setTimeout(() => this.listenForChanges(), 5000);
        retry.unref();
      },
    );
  }

  /**
   * Reads the budgets again and settles now: the replica that changed a budget (CLI, GraphQL) applies the change
   * before it answers, without waiting for the notification.
   */
  async sync(): Promise<void> {
    if (this.opts.leaseSettleMs <= 0) return;
    await this.budgetsChanged();
    await this.settle(false);
  }

  /**
   * Budgets changed: limits are read again and every lease takes the new ones; near a cap the next settlement
   * freezes and gives back what no longer fits. A raised limit lifts a hard cap at once anyway, as calls at a
   * cap reserve in Postgres.
   */
  private async budgetsChanged(): Promise<void> {
    await this.loadDefinitions();
    const byId = new Map([...this.definitions!.values()].flat().map((d) => [d.id, d]));
    for (const lease of this.leases.values()) {
      const d = byId.get(lease.ref.id);
      if (!d) {
        lease.frozen = true;
        continue;
      }
      lease.ref.limit = d.limit_amount === null ? null : toUnits(d.limit_amount);
      lease.ref.maxCalls = d.max_calls;
      lease.refreeze(this.hardCapUnits(), LEASE_POLICY);
    }
    this.version++;
    this.settleSoon();
  }

  /**
   * Gives back every lease's free room and what the ledger now counts of its calls (what calls in flight hold
   * stays, until they are ledgered). The next call takes a lease again.
   */
  async giveBack(): Promise<void> {
    await this.settle(true);
  }

  /**
   * Stops the timers and gives every lease back: settled as usual (what was ledgered counts as spent), then every
   * row this replica holds is deleted, room its calls in flight still hold included (their usage is journaled and
   * counted when written), and room a settlement took without this replica learning it.
   */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.unlisten?.();
    try {
      await this.giveBack();
      if (this.leasesUsed) await releaseHolderLeases(this.db, this.holder);
      this.leases.clear();
    } catch (err) {
      this.log.warn({ err }, 'budget leases could not be given back; they expire');
    }
  }

  private async reserveExactly(s: ReservationSubject): Promise<BudgetState> {
    this.statements.reserve++;
    const rows = await reserveBudgets(this.db, s);
    const budgets = rows.map(toFact);
    this.remember(budgets, s);
    return { budgets, available: true, reserved: rows.length > 0 };
  }

  private async reserveLeased(s: ReservationSubject): Promise<BudgetState> {
    if (!this.definitions) await this.loadDefinitions();
    const refs = this.applicable(s, this.definitions!);
    if (refs.length === 0) return { budgets: [], available: true, reserved: false };
    const worst = worstOf({ cost: s.cost, tokens: s.tokens });
    const now = Date.now();
    let leases = this.leasesFor(refs, worst, now);
    if (!leases) {
      // A lease ran dry before its settlement: settling now gives back what the ledger counts of its calls and
      // tops it up. A budget this replica holds no lease of yet (a new session) takes one with one statement.
      const held = refs.every((ref) => this.leases.get(leaseKey(ref))?.usable(now));
      if (held) {
        // A settlement already under way was sized before this call ran its lease dry: after it, one sized now,
        // before the call falls back to an exact reservation (none is sent if nothing wants room).
        const underWay = this.settling !== null;
        await this.settle(false);
        if (underWay && !this.leasesFor(refs, worst, Date.now())) await this.settle(false);
      } else {
        await this.acquire(s, worst, refs);
      }
      leases = this.leasesFor(refs, worst, Date.now());
    }
    if (!leases) {
      // Some budget is near its cap (or too small to slice): this call reserves exactly, and the leases that
      // could not grow stop admitting and give their free room back.
      for (const ref of refs) {
        const lease = this.leases.get(leaseKey(ref));
        if (lease && !lease.fits(amountFor(lease, worst), now)) lease.frozen = true;
      }
      this.settleSoon();
      return this.reserveExactly(s);
    }
    const budgets = leases.map((l) => l.fact());
    for (const lease of leases) {
      lease.admit(s.requestId, amountFor(lease, worst), now);
      if (lease.free < lease.held / 4n) this.settleSoon();
    }
    this.leased.set(s.requestId, { leases, finished: false });
    this.remember(budgets, s);
    return { budgets, available: true, reserved: true };
  }

  /** The call's leases when each has room for it, else null. */
  private leasesFor(refs: BudgetRef[], worst: Worst, now: number): Lease[] | null {
    const out: Lease[] = [];
    for (const ref of refs) {
      const lease = this.leases.get(leaseKey(ref));
      if (!lease || !lease.fits(amountFor(lease, worst), now)) return null;
      out.push(lease);
    }
    return out;
  }

  /**
   * Takes leases on the call's budgets that have none with room for it here (a new session's, mostly; the others
   * are left alone, their counter rows not even locked): a slice of a few calls like this one, and of the calls a
   * budget caps (a session cap's, mostly) the largest share at once, as a session's calls usually all come to one
   * replica.
   */
  private async acquire(s: ReservationSubject, worst: Worst, refs: readonly BudgetRef[]): Promise<void> {
    const now = Date.now();
    const wanted = refs.filter((ref) => {
      const lease = this.leases.get(leaseKey(ref));
      return !lease || !lease.fits(amountFor(lease, worst), now);
    });
    const slice = (w: Units) => w * BigInt(SLICE_CALLS);
    const calls = Math.max(SLICE_CALLS, ...wanted.map((r) => (r.maxCalls === null ? 0 : Math.floor(r.maxCalls * LEASE_POLICY.maxShare))));
    this.statements.acquire++;
    this.leasesUsed = true;
    const rows = await acquireLeases(this.db, {
      holder: this.holder, at: s.at, expiresAt: this.expiry(), bu: s.bu, useCase: s.useCase, agent: s.agent, session: s.session,
      usd: fromUnits(slice(worst.usd)), tokens: fromUnits(slice(worst.tokens)), calls, only: wanted.map((r) => r.id),
    }, this.policy());
    const usableUntil = this.usableUntil();
    for (const row of rows) {
      const ref: BudgetRef = {
        id: row.id, scope: row.scope, scope_id: row.scope_id, unit: row.unit, period: row.period,
        limit: row.limit_amount === null ? null : toUnits(row.limit_amount), maxCalls: row.max_calls,
        periodStart: new Date(row.period_start), key: row.key,
      };
      const key = leaseKey(ref);
      const lease = this.leases.get(key) ?? new Lease(ref);
      lease.ref = ref;
      lease.update(row, { amount: 0n, calls: 0 }, usableUntil);
      if (lease.held > 0n || lease.heldCalls > 0) this.leases.set(key, lease);
    }
  }

  private settleSoon(): void {
    if (!this.settling) void this.settle(false).catch(() => {});
  }

  /** One statement for every lease: give back what the ledger counts now, ask for the next slice, renew. */
  private settle(all: boolean): Promise<void> {
    if (this.settling) return this.settling;
    this.settling = this.settleOnce(all).finally(() => {
      this.settling = null;
    });
    return this.settling;
  }

  /**
   * Settles the leases that have something to settle: room to ask for, room to give back (frozen or idle), or an
   * expiry to renew (within half the lease's lifetime). Others wait: what their calls spent goes back with
   * their next top-up, so a busy lease settles about once a slice, and an idle one once.
   */
  private async settleOnce(all: boolean): Promise<void> {
    if (this.leases.size === 0) return;
    const now = Date.now();
    const elapsed = Math.max(1, now - this.lastSettledAt);
    this.lastSettledAt = now;
    const hardCap = this.hardCapUnits();
    const renewBy = now + this.opts.leaseTtlMs / 2;
    const sent: { lease: Lease; entry: Settlement; released: { amount: Units; calls: number } }[] = [];
    for (const lease of [...this.leases.values()].sort(byRow)) {
      const idle = all || (now - lease.lastUsed > IDLE_MS && lease.live.size === 0);
      // A lease giving its free room back admits nothing while that is under way (nor after, unless unfrozen).
      if (idle) lease.frozen = true;
      const target = lease.target(elapsed, this.opts.leaseSettleMs, hardCap, LEASE_POLICY);
      if (!lease.wants(target) && lease.usableUntil > renewBy) continue;
      sent.push({ lease, entry: lease.settlement(target), released: { amount: lease.written, calls: lease.capsCalls ? lease.writtenCalls : 0 } });
    }
    if (sent.length === 0) return;
    this.statements.settle++;
    const rows = await settleLeases(this.db, this.holder, this.expiry(), sent.map((x) => x.entry), this.policy());
    const usableUntil = this.usableUntil();
    const back = new Map(rows.map((r) => [leaseKey({ id: r.id, periodStart: new Date(r.period_start), key: r.key }), r]));
    for (const { lease, released } of sent) {
      const key = leaseKey(lease.ref);
      const row = back.get(key);
      if (!row) {
        // Swept or its budget deleted: nothing is held for it any more.
        this.leases.delete(key);
        continue;
      }
      lease.ref.limit = row.limit_amount === null ? null : toUnits(row.limit_amount);
      lease.ref.maxCalls = row.max_calls;
      lease.update(row, released, usableUntil);
      lease.refreeze(hardCap, LEASE_POLICY);
      if (lease.empty) this.leases.delete(key);
    }
  }

  private hardCapUnits(): Units {
    return BigInt(Math.round(this.opts.hardCap() * 1e12));
  }

  private policy(): LeasePolicy {
    return { ...LEASE_POLICY, hardCap: this.opts.hardCap() };
  }

  private expiry(): Date {
    return new Date(Date.now() + this.opts.leaseTtlMs);
  }

  /** Settled leases admit calls until shortly before they could expire unrenewed. */
  private usableUntil(): number {
    return Date.now() + this.opts.leaseTtlMs - 2 * this.opts.leaseSettleMs;
  }

  /**
   * The budgets a call falls under, in its period and (for sessions) its session. Definitions are read once and
   * again when budgets change; each call's set is merged and its limits parsed once per use case, BU and agent.
   */
  private applicable(s: ReservationSubject, defs: Map<string, BudgetDefinition[]>): BudgetRef[] {
    const subject = `${s.useCase}\n${s.bu}\n${s.agent}`;
    let found = this.applicableBySubject.get(subject);
    if (!found) {
      found = [
        ...(defs.get(`use_case:${s.useCase}`) ?? []), ...(defs.get(`bu:${s.bu}`) ?? []), ...(defs.get(`agent:${s.agent}`) ?? []),
        ...(defs.get(`session:${s.useCase}`) ?? []), ...(defs.get('session:*') ?? []),
      ].sort((a, b) => a.id - b.id).map((d) => ({ ...d, limit: d.limit_amount === null ? null : toUnits(d.limit_amount) }));
      // Tags are checked by the policy after this: an agent sending made-up ones must not grow this without end.
      if (this.applicableBySubject.size >= MAX_SUBJECTS) this.applicableBySubject.clear();
      this.applicableBySubject.set(subject, found);
    }
    return found.map((d) => ({
      id: d.id, scope: d.scope, scope_id: d.scope_id, unit: d.unit, period: d.period, limit: d.limit, maxCalls: d.max_calls,
      periodStart: periodStartOf(d.period, s.at), key: d.scope === 'session' ? s.session : '',
    }));
  }

  private async loadDefinitions(): Promise<void> {
    const byScope = new Map<string, BudgetDefinition[]>();
    for (const d of await budgetDefinitions(this.db)) {
      const k = `${d.scope}:${d.scope_id}`;
      byScope.set(k, [...(byScope.get(k) ?? []), d]);
    }
    this.definitions = byScope;
    this.applicableBySubject.clear();
  }

  private remember(budgets: BudgetFact[], s: ReservationSubject): void {
    for (const fact of budgets) this.known.set(fact.id, { fact, useCase: s.useCase, bu: s.bu, agent: s.agent, session: s.session });
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.localSince.clear();
    this.log.info({}, 'budget state is available again');
  }

  private lastKnown(s: ReservationSubject): BudgetFact[] {
    const out: BudgetFact[] = [];
    for (const [id, k] of this.known) {
      const sameScope = (k.fact.scope === 'use_case' && k.fact.scope_id === s.useCase) || (k.fact.scope === 'bu' && k.fact.scope_id === s.bu)
        || (k.fact.scope === 'agent' && k.fact.scope_id === s.agent) || (k.fact.scope === 'session' && k.session === s.session && [s.useCase, '*'].includes(k.fact.scope_id));
      if (!sameScope) continue;
      const local = this.localSince.get(id) ?? { cost: 0, tokens: 0, calls: 0 };
      // Last known spend and reservations of others stand in for what cannot be read now.
      out.push({ ...k.fact, spent: k.fact.spent + (k.fact.unit === 'usd' ? local.cost : local.tokens), calls: k.fact.calls + local.calls });
    }
    return out;
  }
}

function worstOf(w: { cost: string; tokens: number }): Worst {
  return { usd: toUnits(w.cost), tokens: BigInt(w.tokens) * UNIT };
}

/** What a call takes of a lease: its cost or tokens by the budget's unit; nothing of a budget that caps only calls. */
function amountFor(lease: Lease, w: Worst): Units {
  if (lease.ref.limit === null) return 0n;
  return lease.ref.unit === 'usd' ? w.usd : w.tokens;
}

function tokensOf(ev: UsageEvent): number {
  return ev.input_tokens + ev.cached_input_tokens + ev.cache_write_tokens + ev.output_tokens;
}

function byRow(a: Lease, b: Lease): number {
  return a.ref.id - b.ref.id || a.ref.periodStart.getTime() - b.ref.periodStart.getTime() || (a.ref.key < b.ref.key ? -1 : a.ref.key > b.ref.key ? 1 : 0);
}

function applies(k: Known, ev: UsageEvent): boolean {
  switch (k.fact.scope) {
    case 'use_case': return k.fact.scope_id === ev.use_case_id;
    case 'bu': return k.fact.scope_id === ev.bu_id;
    case 'agent': return k.fact.scope_id === ev.agent_id;
    case 'session': return k.session === ev.session_id;
  }
}

function toFact(r: ReservedBudget): BudgetFact {
  return {
    id: r.id,
    scope: r.scope,
    scope_id: r.scope_id,
    unit: r.unit,
    limit: r.limit_amount === null ? null : Number(r.limit_amount),
    max_calls: r.max_calls,
    period: r.period,
    period_start: new Date(r.period_start).toISOString(),
    // The policy only compares ratios; exact figures stay in Postgres and the ledger.
    spent: Number(r.spent),
    reserved: Number(r.reserved_before),
    calls: r.calls_before,
  };
}
