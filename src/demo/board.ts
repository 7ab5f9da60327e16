import type { Db } from '../db/knex.js';
import { budgetStatus, type BudgetStatus } from '../db/budgets.js';
import { readSpend } from '../db/ledger.js';
import { periodStart } from '../budgets/period.js';
import type { CallOutcome, DemoAgent } from './agents.js';

type Seen = { tier: string; served: string; rejected: number; downgraded: number };

/**
 * What the demo prints: a line whenever tollgate reports a new tier, serves a cheaper model or rejects a
 * call, and every few seconds a table per use case. Tiers are the ones tollgate put on its answers; spend
 * is what the ledger holds.
 */
export class Board {
  private readonly seen = new Map<string, Seen>();
  private readonly started = Date.now();

  constructor(private readonly agents: readonly DemoAgent[], private readonly out: (line: string) => void) {
    for (const a of agents) this.seen.set(a.useCase, { tier: 'ok', served: '-', rejected: 0, downgraded: 0 });
  }

  onCall(o: CallOutcome): void {
    const s = this.seen.get(o.agent.useCase)!;
    const where = `${o.agent.useCase.padEnd(24)} ${o.agent.agent} (${o.session}${o.stream ? ', streamed' : ''})`;
    if (o.tier && o.tier !== s.tier) {
      this.event(`${where}: tier ${s.tier} → ${o.tier}`);
      s.tier = o.tier;
    }
    if (o.served) s.served = o.served;
    if (o.served && o.served !== o.requested) {
      s.downgraded++;
      this.event(`${where}: downgrade at soft_cap, asked ${o.requested}, served ${o.served}`);
    } else if (o.status >= 400 || o.status === 0) {
      s.rejected++;
      this.event(`${where}: rejected ${o.status} ${o.code ?? ''}${o.tier === 'hard_cap' ? ' (hard_cap)' : ''}`);
    }
  }

  /** Whether every use case named has shown a downgrade and a rejection (the demo's point). */
  showed(useCases: readonly string[]): boolean {
    return useCases.every((u) => {
      const s = this.seen.get(u);
      return s !== undefined && s.downgraded > 0 && s.rejected > 0;
    });
  }

  /** The per-use-case table, read from the ledger's spend and the budgets. */
  async table(db: Db): Promise<string> {
    const now = new Date();
    const start = periodStart('month', now).getTime();
    const spend = new Map((await readSpend(db)).filter((r) => new Date(r.period_start).getTime() === start).map((r) => [r.use_case_id, r]));
    const budgets = new Map((await budgetStatus(db, now)).filter((b) => b.scope === 'use_case').map((b) => [b.scope_id, b]));
    const rows = this.agents.map((a) => {
      const s = this.seen.get(a.useCase)!;
      const sp = spend.get(a.useCase);
      const b = budgets.get(a.useCase);
      return [a.useCase, String(sp?.calls ?? 0), `$${Number(sp?.cost ?? 0).toFixed(4)}`, budgetText(b), usedText(b), s.tier, s.served, String(s.downgraded), String(s.rejected)];
    });
    const head = ['use case', 'calls', 'cost', 'budget', 'used', 'tier', 'last served', 'downgraded', 'rejected'];
    return [`── ${this.elapsed()} ─`, ...formatRows([head, ...rows])].join('\n');
  }

  private event(text: string): void {
    this.out(`${this.elapsed()}  ${text}`);
  }

  private elapsed(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1).padStart(5)}s`;
  }
}

function budgetText(b: BudgetStatus | undefined): string {
  if (!b) return '-';
  return b.unit === 'usd' ? `$${Number(b.limit_amount).toFixed(4)}` : `${Number(b.limit_amount)} tok`;
}

function usedText(b: BudgetStatus | undefined): string {
  if (!b || Number(b.limit_amount) <= 0) return '-';
  return `${Math.round((Number(b.spent) / Number(b.limit_amount)) * 100)}%`;
}

function formatRows(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 || i >= 5 && i <= 6 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}
