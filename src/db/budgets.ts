import type { Db } from './knex.js';
import { periodStart, type Period } from '../budgets/period.js';

export type BudgetUnit = 'usd' | 'tokens';
export type BudgetInput = { useCaseId: string; limit: string; unit: BudgetUnit; period: string };
export type BudgetRow = {
  use_case_id: string;
  limit_amount: string;
  unit: BudgetUnit;
  period: Period;
  period_start: Date;
  /** Spend in the budget's unit (USD as a decimal string, or tokens) for the current period. */
  spent: string;
};

export async function upsertBudget(db: Db, b: BudgetInput): Promise<void> {
  await db('budgets')
    .insert({
      use_case_id: b.useCaseId,
      limit_amount: b.limit,
      unit: b.unit,
      currency: b.unit === 'usd' ? 'USD' : null,
      period: b.period,
    })
    .onConflict('use_case_id')
    .merge({ limit_amount: b.limit, unit: b.unit, currency: b.unit === 'usd' ? 'USD' : null, period: b.period, updated_at: db.fn.now() });
}

/** Every budget with its spend in the period that contains `now`. */
export async function loadBudgets(db: Db, now: Date): Promise<BudgetRow[]> {
  const start = periodStart('month', now);
  const rows = await db('budgets as b')
    .leftJoin('use_case_spend as s', (j) =>
      j.on('s.use_case_id', 'b.use_case_id').andOn('s.period', 'b.period').andOnVal('s.period_start', start))
    .select('b.use_case_id', 'b.limit_amount', 'b.unit', 'b.period', 's.cost', 's.tokens');
  return rows.map((r) => ({
    use_case_id: r.use_case_id,
    limit_amount: String(r.limit_amount),
    unit: r.unit,
    period: r.period,
    period_start: start,
    spent: r.unit === 'tokens' ? String(r.tokens ?? 0) : String(r.cost ?? '0'),
  }));
}
