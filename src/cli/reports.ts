import { Option, type Command } from 'commander';
import { chargeback, type ChargebackRow } from '../db/ledger.js';
import { monthRange } from '../budgets/period.js';
import { withDb } from './db.js';
import { focusCsv } from '../db/periods.js';

const COLUMNS = ['bu_id', 'use_case_id', 'calls', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'cost'] as const;

export function reportCommands(report: Command): void {
  report.command('chargeback')
    .description('spend per BU and use case for a month')
    .requiredOption('--period <YYYY-MM>', 'the month, UTC')
    .addOption(new Option('--format <format>', 'output format (focus: FinOps FOCUS CSV by accounting period)').choices(['table', 'csv', 'json', 'focus']).default('table'))
    .action(async (opts: { period: string; format: 'table' | 'csv' | 'json' | 'focus' }) => {
      if (opts.format === 'focus') return void process.stdout.write(await withDb((db) => focusCsv(db, opts.period)));
      const range = monthRange(opts.period);
      const rows = await withDb((db) => chargeback(db, range));
      process.stdout.write(formatChargeback(rows, opts.format, opts.period));
    });
}

export function formatChargeback(rows: ChargebackRow[], format: 'table' | 'csv' | 'json', period: string): string {
  if (format === 'json') return `${JSON.stringify({ period, currency: 'USD', rows }, null, 2)}\n`;
  if (format === 'csv') {
    const lines = rows.map((r) => COLUMNS.map((c) => csvCell(String(r[c]))).join(','));
    return `${[COLUMNS.join(','), ...lines].join('\n')}\n`;
  }
  if (rows.length === 0) return `no spend in ${period}\n`;
  const table = [COLUMNS.map(String), ...rows.map((r) => COLUMNS.map((c) => String(r[c])))];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return `${table.map((row) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n')}\n`;
}

function csvCell(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
