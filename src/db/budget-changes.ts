import type { Knex } from 'knex';
import type { Db } from './knex.js';
import { upsertBudget, type BudgetInput, type BudgetRow } from './budgets.js';
import { add, compare, formatDecimal, parseDecimal } from '../metering/money.js';
import type { BudgetScope } from '../policy/types.js';

/**
 * Every change to a budget, with who, when, why, and the budget before and after (budget_changes). The
 * change and its audit row commit together, under a lock on the budget row, so two extensions at once
 * both count and each audit row's `before` is what that change really started from.
 */

export type BudgetChangeAction = 'create' | 'set' | 'extend';
export type BudgetSnapshot = {
  id: number; scope: BudgetScope; scope_id: string; limit_amount: string | null; unit: string;
  currency: string | null; period: string; max_calls: number | null;
};
export type BudgetChangeRow = {
  id: number; budget_id: number; action: BudgetChangeAction; actor: string; reason: string | null;
  before: BudgetSnapshot | null; after: BudgetSnapshot; created_at: Date;
};

export type BudgetChangeErrorCode = 'unknown_budget' | 'invalid_amount' | 'not_an_extension' | 'missing_reason' | 'missing_actor';

export class BudgetChangeError extends Error {
  constructor(readonly code: BudgetChangeErrorCode, message: string) {
    super(message);
    this.name = 'BudgetChangeError';
  }
}

export type BudgetRef = { budgetId: number } | { scope: BudgetScope; scopeId: string };

export type ExtendInput = BudgetRef & { by?: string; to?: string; reason: string; actor: string };

export type BudgetChangeResult = { before: BudgetSnapshot | null; after: BudgetSnapshot; change: BudgetChangeRow | null };

/**
 * Raises a budget's limit by an amount or to an amount. `to` must be above the current limit: extend only
 * ever lifts a cap (lowering one is `setBudgetAudited`, a different decision with a different audit
 * action); a `to` below the current spend is therefore impossible too.
 */
export async function extendBudget(db: Db, input: ExtendInput): Promise<BudgetChangeResult> {
  const amount = extensionAmount(input);
  const reason = required(input.reason, 'missing_reason', 'a reason is required: say why the budget is extended');
  const actor = required(input.actor, 'missing_actor', 'an actor is required: say who extends the budget');
  return db.transaction(async (trx) => {
    const row = await lockBudget(trx, input);
    if (row.limit_amount === null) throw new BudgetChangeError('not_an_extension', `budget ${describeRef(input)} caps calls only; it has no amount to extend`);
    if (row.unit === 'tokens' && !/^\d+$/.test(amount.value)) throw new BudgetChangeError('invalid_amount', `budget ${describeRef(input)} is in tokens: the amount must be a whole number`);
    const limit = amount.kind === 'by' ? formatDecimal(add(row.limit_amount, amount.value)) : amount.value;
    if (compare(limit, row.limit_amount) <= 0) {
      throw new BudgetChangeError('not_an_extension', `--to ${amount.value} is not above the current limit ${plain(row.limit_amount)}; extend only raises a budget (use \`budget set\` to lower it)`);
    }
    const [after] = (await trx('budgets').where('id', row.id).update({ limit_amount: limit, updated_at: trx.fn.now() }).returning('*')) as BudgetRow[];
    const change = await insertChange(trx, { action: 'extend', actor, reason, before: row, after: after! });
    return { before: snapshot(row), after: snapshot(after!), change };
  });
}

export type SetBudgetInput = BudgetInput & { actor: string; reason?: string | null };

/**
 * Creates or changes a budget and audits it (before is null on create). Setting a budget to what it already
 * is changes nothing and records nothing (change is null).
 */
export async function setBudgetAudited(db: Db, input: SetBudgetInput): Promise<BudgetChangeResult & { action: BudgetChangeAction | null }> {
  const actor = required(input.actor, 'missing_actor', 'an actor is required: say who sets the budget');
  const { actor: _actor, reason, ...budget } = input;
  return db.transaction(async (trx) => {
    await trx('budgets').where({ scope: budget.scope, scope_id: budget.scopeId }).forUpdate().first('id');
    const { before, after } = await upsertBudget(trx, budget);
    const action: BudgetChangeAction = before ? 'set' : 'create';
    if (before && sameBudget(snapshot(before), snapshot(after))) return { action: null, before: snapshot(before), after: snapshot(after), change: null };
    const change = await insertChange(trx, { action, actor, reason: reason?.trim() || null, before, after });
    return { action, before: before && snapshot(before), after: snapshot(after), change };
  });
}

/** The audit of one budget, oldest first. */
export async function listBudgetChanges(db: Db, ref: BudgetRef): Promise<BudgetChangeRow[]> {
  const budget = await findBudget(db, ref);
  if (!budget) throw new BudgetChangeError('unknown_budget', `no budget for ${describeRef(ref)}`);
  const rows = (await db('budget_changes').where('budget_id', budget.id).orderBy('id')) as BudgetChangeRow[];
  return rows.map(normalizeChange);
}

export async function findBudget(db: Db | Knex.Transaction, ref: BudgetRef): Promise<BudgetRow | null> {
  const q = db('budgets').first('*');
  if ('budgetId' in ref) q.where('id', ref.budgetId);
  else q.where({ scope: ref.scope, scope_id: ref.scopeId });
  return ((await q) as BudgetRow | undefined) ?? null;
}

async function lockBudget(trx: Knex.Transaction, ref: BudgetRef): Promise<BudgetRow> {
  const q = trx('budgets').forUpdate().first('*');
  if ('budgetId' in ref) q.where('id', ref.budgetId);
  else q.where({ scope: ref.scope, scope_id: ref.scopeId });
  const row = (await q) as BudgetRow | undefined;
  if (!row) throw new BudgetChangeError('unknown_budget', `no budget for ${describeRef(ref)}`);
  return row;
}

async function insertChange(
  trx: Knex.Transaction,
  c: { action: BudgetChangeAction; actor: string; reason: string | null; before: BudgetRow | null; after: BudgetRow },
): Promise<BudgetChangeRow> {
  const [row] = (await trx('budget_changes')
    .insert({
      budget_id: c.after.id,
      action: c.action,
      actor: c.actor,
      reason: c.reason,
      before: c.before ? JSON.stringify(snapshot(c.before)) : null,
      after: JSON.stringify(snapshot(c.after)),
    })
    .returning('*')) as BudgetChangeRow[];
  return normalizeChange(row!);
}

function extensionAmount(input: ExtendInput): { kind: 'by' | 'to'; value: string } {
  if ((input.by === undefined) === (input.to === undefined)) throw new BudgetChangeError('invalid_amount', 'give exactly one of --by (an increase) or --to (the new limit)');
  const kind = input.by !== undefined ? 'by' : 'to';
  const value = String(input[kind]).trim();
  if (!/^\d+(\.\d+)?$/.test(value) || parseDecimal(value).units <= 0n) {
    throw new BudgetChangeError('invalid_amount', `--${kind} must be a positive number, e.g. 500 or 12.50 (got "${value}")`);
  }
  return { kind, value };
}

function required(value: string | undefined, code: BudgetChangeErrorCode, message: string): string {
  const v = value?.trim();
  if (!v) throw new BudgetChangeError(code, message);
  return v;
}

function snapshot(b: BudgetRow): BudgetSnapshot {
  return {
    id: Number(b.id), scope: b.scope, scope_id: b.scope_id,
    limit_amount: b.limit_amount === null ? null : plain(String(b.limit_amount)),
    unit: b.unit, currency: b.currency, period: b.period,
    max_calls: b.max_calls === null ? null : Number(b.max_calls),
  };
}

function sameBudget(a: BudgetSnapshot, b: BudgetSnapshot): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** '2500.000000000000' → '2500'; '12.500' → '12.5'. */
export function plain(decimal: string): string {
  const s = formatDecimal(parseDecimal(decimal));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function describeRef(ref: BudgetRef): string {
  return 'budgetId' in ref ? `id ${ref.budgetId}` : `${ref.scope.replace('_', ' ')} "${ref.scopeId}"`;
}

// pg parses jsonb; knex-pglite may hand it back as text.
function normalizeChange(r: BudgetChangeRow): BudgetChangeRow {
  const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
  return { ...r, id: Number(r.id), budget_id: Number(r.budget_id), before: json(r.before), after: json(r.after) };
}
