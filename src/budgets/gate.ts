import type { Db } from '../db/knex.js';
import { releaseDenied, reserveBudgets, shrinkReservation, sweepExpiredReservations, type ReservationSubject, type ReservedBudget } from '../db/budgets.js';
import type { BudgetFact } from '../policy/types.js';
import type { UsageEvent } from '../metering/types.js';

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

export type BudgetState = { budgets: BudgetFact[]; available: boolean; reserved: boolean };

type Known = { fact: BudgetFact; useCase: string; bu: string; agent: string; session: string };

/**
 * The hot path's side of budgets. Postgres is the coordinator: each call reserves its worst case there,
 * atomically, before the decision. When Postgres cannot be reached the state is marked unavailable and
 * the policy chooses, per use case, to fail closed or open; open runs on the last state this replica saw
 * plus what it metered since, until Postgres answers again (the journal then brings the ledger, and so
 * the counters, up to date).
 */
export class BudgetGate {
  private known = new Map<number, Known>();
  private localSince = new Map<number, { cost: number; tokens: number; calls: number }>();
  private degraded = false;
  private sweepTimer?: NodeJS.Timeout;

  constructor(private readonly db: Db, private readonly log: Log, private readonly reservationTtlMs: number) {}

  async reserve(subject: Omit<ReservationSubject, 'expiresAt'>): Promise<BudgetState> {
    const s: ReservationSubject = { ...subject, expiresAt: new Date(subject.at.getTime() + this.reservationTtlMs) };
    try {
      const rows = await reserveBudgets(this.db, s);
      if (this.degraded) {
        this.degraded = false;
        this.localSince.clear();
        this.log.info({}, 'budget state is available again');
      }
      const budgets = rows.map(toFact);
      for (const fact of budgets) this.known.set(fact.id, { fact, useCase: s.useCase, bu: s.bu, agent: s.agent, session: s.session });
      return { budgets, available: true, reserved: rows.length > 0 };
    } catch (err) {
      if (!this.degraded) this.log.warn({ err }, 'budget state unavailable; the policy decides per use case whether to fail open or closed');
      this.degraded = true;
      return { budgets: this.lastKnown(s), available: false, reserved: false };
    }
  }

  /** A denied call gives its reservation back now; failing that, the expiry sweep does it later. */
  release(requestId: string): void {
    releaseDenied(this.db, requestId).catch((err: unknown) => this.log.warn({ err, request_id: requestId }, 'reservation release failed; it will expire'));
  }

  /** After the decision: an allowed call that will cost less than reserved (clamped, downgraded) gives back the rest. */
  shrink(requestId: string, worst: { cost: string; tokens: number }): void {
    shrinkReservation(this.db, requestId, worst).catch((err: unknown) => this.log.warn({ err, request_id: requestId }, 'reservation shrink failed; the reservation stays as it was'));
  }

  /**
   * Calls metered while degraded count locally, so that failing open still has a cap. Reserved calls count
   * too: their reservations are in the last known state of some budgets and not others, and counting a
   * call twice is the safe side here.
   */
  metered(ev: UsageEvent): void {
    if (!this.degraded) return;
    const tokens = ev.input_tokens + ev.cached_input_tokens + ev.cache_write_tokens + ev.output_tokens;
    for (const [id, k] of this.known) {
      if (!applies(k, ev)) continue;
      const cur = this.localSince.get(id) ?? { cost: 0, tokens: 0, calls: 0 };
      this.localSince.set(id, { cost: cur.cost + Number(ev.cost), tokens: cur.tokens + tokens, calls: cur.calls + 1 });
    }
  }

  startSweeper(intervalMs: number): void {
    this.sweepTimer = setInterval(() => {
      sweepExpiredReservations(this.db).then(
        (n) => { if (n > 0) this.log.info({ released: n }, 'expired budget reservations released'); },
        () => {},
      );
    }, intervalMs);
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
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
