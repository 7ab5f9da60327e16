import os from 'node:os';
import type { Command } from 'commander';
import { extendBudget, listBudgetChanges, plain, type BudgetChangeRow, type BudgetRef } from '../db/budget-changes.js';
import { positiveDecimal, withDb } from './db.js';

type ScopeOpts = { useCase?: string; bu?: string; agent?: string };

export function budgetExtendCommands(budget: Command): void {
  scoped(budget.command('extend'))
    .description("raise a budget's limit (lifts the hard cap on every replica from the next call); audited")
    .option('--by <n>', 'raise the limit by this amount, in the budget\'s unit', positiveDecimal)
    .option('--to <n>', 'raise the limit to this amount, in the budget\'s unit', positiveDecimal)
    .requiredOption('--reason <text>', 'why (kept in the audit)')
    .option('--actor <name>', 'who (kept in the audit; default: the OS user)')
    .action(async (opts: ScopeOpts & { by?: string; to?: string; reason: string; actor?: string }) => {
      const ref = budgetRef(opts);
      if ((opts.by === undefined) === (opts.to === undefined)) throw new Error('give exactly one of --by N (an increase) or --to N (the new limit)');
      const r = await withDb((db) => extendBudget(db, { ...ref, by: opts.by, to: opts.to, reason: opts.reason, actor: opts.actor ?? defaultActor() }));
      console.log(`budget for ${describe(ref)}: ${r.before?.limit_amount} → ${r.after.limit_amount} ${r.after.unit} per ${r.after.period} (change ${r.change?.id}, by ${r.change?.actor})`);
    });

  scoped(budget.command('history'))
    .description('every change to a budget: when, who, what, why')
    .action(async (opts: ScopeOpts) => {
      const ref = budgetRef(opts);
      const rows = await withDb((db) => listBudgetChanges(db, ref));
      process.stdout.write(formatHistory(rows));
    });
}

function scoped(cmd: Command): Command {
  return cmd
    .option('--use-case <id>', 'the use case\'s budget')
    .option('--bu <id>', 'the business unit\'s budget')
    .option('--agent <id>', 'the agent\'s budget');
}

function budgetRef(opts: ScopeOpts): BudgetRef {
  const given = [
    opts.useCase !== undefined && ({ scope: 'use_case', scopeId: opts.useCase } as const),
    opts.bu !== undefined && ({ scope: 'bu', scopeId: opts.bu } as const),
    opts.agent !== undefined && ({ scope: 'agent', scopeId: opts.agent } as const),
  ].filter((x) => x !== false);
  if (given.length !== 1) throw new Error('name exactly one budget: --use-case ID, --bu ID or --agent ID');
  return given[0]!;
}

/** Who runs the CLI, for the audit when --actor is not given. */
export function defaultActor(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

function describe(ref: BudgetRef): string {
  return 'budgetId' in ref ? `budget ${ref.budgetId}` : `${ref.scope.replace('_', ' ')} ${ref.scopeId}`;
}

export function formatHistory(rows: readonly BudgetChangeRow[]): string {
  if (rows.length === 0) return 'no changes recorded\n';
  return rows.map((r) => {
    const limit = (s: BudgetChangeRow['after'] | null) => (s ? `${s.limit_amount === null ? '-' : plain(s.limit_amount)} ${s.unit}/${s.period}` : '(none)');
    const why = r.reason ? ` — ${r.reason}` : '';
    return `${new Date(r.created_at).toISOString()}  ${r.action.padEnd(6)}  ${r.actor}  ${limit(r.before)} → ${limit(r.after)}${why}\n`;
  }).join('');
}
