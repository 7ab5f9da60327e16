import { Option, type Command } from 'commander';
import type { BudgetPeriod, BudgetUnit } from '../db/budgets.js';
import { setBudgetAudited } from '../db/budget-changes.js';
import { defaultActor } from './extend.js';
import { positiveDecimal, withDb } from './db.js';

export function budgetCommands(budget: Command): void {
  budget.command('set')
    .description("set a use case's budget for each period")
    .requiredOption('--use-case <id>', 'use case id from the catalog')
    .requiredOption('--limit <n>', 'the limit, in the unit', positiveDecimal)
    .addOption(new Option('--unit <unit>', 'usd or tokens').choices(['usd', 'tokens']).makeOptionMandatory())
    // day, week and quarter periods arrive with the budgets work; month is the one the ledger rolls up today.
    .addOption(new Option('--period <period>', 'budget period').choices(['month']).default('month'))
    .option('--reason <text>', 'why (kept in the audit)')
    .option('--actor <name>', 'who (kept in the audit; default: the OS user)')
    .action(async (opts: { useCase: string; limit: string; unit: BudgetUnit; period: BudgetPeriod; reason?: string; actor?: string }) => {
      if (opts.unit === 'tokens' && !/^\d+$/.test(opts.limit)) throw new Error('a token budget must be a whole number');
      await withDb(async (db) => {
        if (!(await db('use_cases').where('id', opts.useCase).first('id'))) throw new Error(`unknown use case "${opts.useCase}"`);
        await setBudgetAudited(db, { scope: 'use_case', scopeId: opts.useCase, limit: opts.limit, unit: opts.unit, period: opts.period, actor: opts.actor ?? defaultActor(), reason: opts.reason });
      });
      console.log(`budget for ${opts.useCase}: ${opts.limit} ${opts.unit} per ${opts.period}`);
    });
}
