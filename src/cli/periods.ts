import os from 'node:os';
import type { Command } from 'commander';
import { closePeriod, listPeriodCloses } from '../db/periods.js';
import { withDb } from './db.js';

export function periodCommands(period: Command): void {
  period.command('close')
    .description('freeze a month: store its totals; calls that arrive later for it are billed in the next open month as corrections')
    .argument('<YYYY-MM>')
    .option('--by <name>', 'who closes it (recorded)', process.env.USER ?? os.userInfo().username)
    .action(async (month: string, opts: { by: string }) => {
      const closed = await withDb((db) => closePeriod(db, month, opts.by));
      console.log(`closed ${closed.period}: ${closed.totals.calls} calls, ${closed.totals.cost} ${closed.totals.currency}`);
    });

  period.command('list')
    .description('closed months and their frozen totals')
    .action(async () => {
      const rows = await withDb((db) => listPeriodCloses(db));
      console.table(rows.map((r) => ({ period: r.period, closed_at: new Date(r.closed_at).toISOString(), by: r.closed_by, calls: r.totals.calls, cost: r.totals.cost, corrections: r.totals.corrections.cost })));
    });
}
