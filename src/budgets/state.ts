import type { Db } from '../db/knex.js';
import { loadBudgets, type BudgetRow } from '../db/budgets.js';
import type { BudgetFact } from '../policy/types.js';
import type { UsageEvent } from '../metering/types.js';
import { periodStart } from './period.js';

type Amount = { cost: number; tokens: number };

/** Reads per refresh at most, while flushes land during them (see refresh). */
const REFRESH_ATTEMPTS = 3;
type Log = { warn(obj: object, msg: string): void };

/**
 * Budget state the policy sees: each use case's limit and its spend this period, as last read from
 * Postgres plus what this process metered since (recorded but not yet flushed, or flushed but not yet
 * re-read). Race-free, replica-wide reservations replace the local part in the budgets issue.
 */
export class BudgetBook {
  private rows = new Map<string, BudgetRow>();
  private loaded = false;
  private unflushed = new Map<string, Amount>();
  private flushedUnread: { seq: number; useCase: string; amount: Amount }[] = [];
  private flushSeq = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly db: Db, private readonly log?: Log) {}

  async refresh(now = new Date()): Promise<void> {
    // A flush that commits while the read is running may or may not be in what the read returns; its
    // events must then neither be dropped (undercount) nor kept on top (a spurious higher tier, even a
    // 429). Only flushes reported before the read started are surely in it, so the read is repeated
    // until no flush was reported while it ran; if flushes keep coming, the safe side (count twice,
    // until the next refresh) is taken rather than the unsafe one (not at all).
    let upto = this.flushSeq;
    let rows = await loadBudgets(this.db, now);
    for (let attempt = 1; attempt < REFRESH_ATTEMPTS && this.flushSeq !== upto; attempt++) {
      upto = this.flushSeq;
      rows = await loadBudgets(this.db, now);
    }
    this.rows = new Map(rows.map((r) => [r.use_case_id, r]));
    this.flushedUnread = this.flushedUnread.filter((f) => f.seq > upto);
    this.loaded = true;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.log?.warn({ err }, 'budget refresh failed; deciding on the last known state'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  fact(useCaseId: string, now: Date): BudgetFact | null {
    if (!this.loaded) return { available: false };
    const row = this.rows.get(useCaseId);
    if (!row) return null;
    const current = periodStart(row.period, now);
    const base = current.getTime() === row.period_start.getTime() ? Number(row.spent) : 0;
    const local = this.localSpend(useCaseId);
    return {
      available: true,
      limit: Number(row.limit_amount),
      spent: base + (row.unit === 'tokens' ? local.tokens : local.cost),
      unit: row.unit,
      period_start: current.toISOString(),
    };
  }

  recorded(ev: UsageEvent): void {
    add(this.unflushed, ev.use_case_id, amountOf(ev));
  }

  flushed(events: UsageEvent[]): void {
    for (const ev of events) {
      const amount = amountOf(ev);
      add(this.unflushed, ev.use_case_id, { cost: -amount.cost, tokens: -amount.tokens });
      this.flushedUnread.push({ seq: ++this.flushSeq, useCase: ev.use_case_id, amount });
    }
  }

  private localSpend(useCaseId: string): Amount {
    const total = { ...(this.unflushed.get(useCaseId) ?? { cost: 0, tokens: 0 }) };
    for (const f of this.flushedUnread) {
      if (f.useCase !== useCaseId) continue;
      total.cost += f.amount.cost;
      total.tokens += f.amount.tokens;
    }
    return total;
  }
}

function amountOf(ev: UsageEvent): Amount {
  return {
    cost: Number(ev.cost),
    tokens: ev.input_tokens + ev.cached_input_tokens + ev.cache_write_tokens + ev.output_tokens,
  };
}

function add(map: Map<string, Amount>, key: string, a: Amount): void {
  const cur = map.get(key) ?? { cost: 0, tokens: 0 };
  map.set(key, { cost: cur.cost + a.cost, tokens: cur.tokens + a.tokens });
}
