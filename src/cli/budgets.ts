import { InvalidArgumentError, Option, type Command } from 'commander';
import { BUDGET_PERIODS, type BudgetPeriod, type BudgetUnit } from '../db/budgets.js';
import { setBudgetAudited } from '../db/budget-changes.js';
import type { BudgetScope } from '../policy/types.js';
import { defaultActor } from './extend.js';
import { positiveDecimal, withDb } from './db.js';

type SetOpts = {
  useCase?: string; bu?: string; agent?: string; sessionCap?: string;
  limit?: string; maxCalls?: number; unit: BudgetUnit; period: BudgetPeriod; reason?: string; actor?: string;
};

/** Where each scope's id must exist in the catalog ('*' caps the sessions of every use case). */
const SCOPE_TABLES: Record<BudgetScope, string> = { use_case: 'use_cases', bu: 'business_units', agent: 'agents', session: 'use_cases' };

export function budgetCommands(budget: Command): void {
  budget.command('set')
    .description('set a budget for each period: of a use case, a BU, an agent, or a cap on each session of a use case')
    .option('--use-case <id>', 'a use case')
    .option('--bu <id>', 'a business unit (all its use cases together)')
    .option('--agent <id>', 'an agent (all its calls together)')
    .option('--session-cap <use-case>', "a cap on every session of this use case ('*': of every use case)")
    .option('--limit <n>', 'the limit, in the unit (optional for a session cap with --max-calls)', positiveDecimal)
    .option('--max-calls <n>', 'session caps: the most calls one session may make in the period', positiveInt)
    .addOption(new Option('--unit <unit>', 'usd or tokens').choices(['usd', 'tokens']).default('usd'))
    .addOption(new Option('--period <period>', 'budget period (UTC; weeks start on Monday)').choices([...BUDGET_PERIODS]).default('month'))
    .option('--reason <text>', 'why (kept in the audit)')
    .option('--actor <name>', 'who (kept in the audit; default: the OS user)')
    .action(async (opts: SetOpts) => {
      const [scope, scopeId] = scopeOf(opts);
      if (opts.limit === undefined && !(scope === 'session' && opts.maxCalls)) throw new Error('--limit is required (a session cap may give --max-calls instead)');
      if (opts.maxCalls !== undefined && scope !== 'session') throw new Error('--max-calls applies to session caps only');
      if (opts.unit === 'tokens' && opts.limit !== undefined && !/^\d+$/.test(opts.limit)) throw new Error('a token budget must be a whole number');
      await withDb(async (db) => {
        if (scopeId !== '*' && !(await db(SCOPE_TABLES[scope]).where('id', scopeId).first('id'))) {
          throw new Error(`unknown ${scope === 'session' ? 'use case' : scope.replace('_', ' ')} "${scopeId}"`);
        }
        await setBudgetAudited(db, {
          scope, scopeId, limit: opts.limit ?? null, unit: opts.unit, period: opts.period, maxCalls: opts.maxCalls ?? null,
          actor: opts.actor ?? defaultActor(), reason: opts.reason,
        });
      });
      const what = scope === 'session' ? `each session of ${scopeId === '*' ? 'every use case' : scopeId}` : scope === 'use_case' ? scopeId : `${scope} ${scopeId}`;
      const caps = [opts.limit !== undefined ? `${opts.limit} ${opts.unit}` : null, opts.maxCalls ? `${opts.maxCalls} calls` : null].filter(Boolean).join(' and ');
      console.log(`budget for ${what}: ${caps} per ${opts.period}`);
    });
}

function scopeOf(opts: SetOpts): [BudgetScope, string] {
  const given = ([['use_case', opts.useCase], ['bu', opts.bu], ['agent', opts.agent], ['session', opts.sessionCap]] as const)
    .filter(([, id]) => id !== undefined) as [BudgetScope, string][];
  if (given.length !== 1) throw new Error('give exactly one of --use-case, --bu, --agent, --session-cap');
  return given[0]!;
}

function positiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}
