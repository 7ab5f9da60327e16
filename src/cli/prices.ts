import fs from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../config.js';
import { thresholdsFrom } from '../analytics/forecast.js';
import { applyDuePriceChanges } from '../budgets/price-changes.js';
import { importPrices, type ImportReport, type PriceFormat } from '../catalog/prices/import.js';
import { pricesInForce, formatPriceTable, formatImportReport } from '../catalog/prices/report.js';
import { loadPriceHistory } from '../db/price-book.js';
import { readBundle } from '../policy/bundle.js';
import { withDb } from './db.js';

type ImportOpts = { file: string; format: 'tollgate' | 'litellm'; effectiveFrom?: string; dryRun?: boolean; source?: string };

export function priceCommands(price: Command): void {
  price.command('import')
    .description('import prices (tollgate JSON/CSV, or LiteLLM\'s model_prices_and_context_window.json): prints the diff, then appends new and changed prices')
    .requiredOption('--file <path>', 'the price file')
    .addOption(new Option('--format <format>', 'tollgate (JSON or CSV by extension) or litellm').choices(['tollgate', 'litellm']).default('tollgate'))
    .option('--effective-from <time>', 'when the prices take effect (ISO 8601; default now); a future time takes effect then, on every replica')
    .option('--dry-run', 'print the diff, write nothing')
    .option('--source <text>', 'where the prices come from, kept on each row (default: the file name)')
    .action(async (opts: ImportOpts) => {
      const effectiveFrom = opts.effectiveFrom === undefined ? undefined : parseTime(opts.effectiveFrom);
      const text = await fs.readFile(opts.file, 'utf8');
      const format: PriceFormat = opts.format === 'litellm' ? 'litellm' : opts.file.toLowerCase().endsWith('.csv') ? 'tollgate-csv' : 'tollgate-json';
      const source = opts.source ?? `${opts.format === 'litellm' ? 'LiteLLM price map' : 'price file'} ${path.basename(opts.file)}`;
      const report = await withDb(async (db) => {
        const r = await importPrices(db, { text, format, source, effectiveFrom, dryRun: opts.dryRun });
        if (!r.dryRun && r.written.length > 0) await reforecastNow(db);
        return r;
      });
      console.log(formatImportReport(report));
      logWritten(report);
    });

  price.command('list')
    .description('the prices in force (per model and service tier), or one model\'s')
    .option('--model <id>', 'one model (all its versions are listed with --history)')
    .option('--at <time>', 'in force at this time (ISO 8601; default now)')
    .option('--history', 'every version, not only the one in force')
    .action(async (opts: { model?: string; at?: string; history?: boolean }) => {
      const at = opts.at === undefined ? new Date() : parseTime(opts.at);
      const rows = await withDb((db) => loadPriceHistory(db, opts.model));
      console.log(formatPriceTable(opts.history ? rows : pricesInForce(rows, at)));
    });
}

/** Re-forecasts at the policy bundle's tier thresholds, as the server does. */
async function reforecastNow(db: Parameters<typeof applyDuePriceChanges>[0]): Promise<void> {
  const bundle = await readBundle(loadConfig().policy.bundlePath);
  const r = await applyDuePriceChanges(db, { thresholds: thresholdsFrom(bundle.data) });
  if (r.applied > 0) console.error(`re-forecast budgets for ${r.applied} price change(s) in force: ${r.notices} owner notice(s) queued`);
}

function logWritten(r: ImportReport): void {
  if (r.dryRun) console.error('dry run: nothing written');
  else console.error(`wrote ${r.written.length} price version(s)`);
}

function parseTime(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`not a time: ${value} (ISO 8601, e.g. 2026-12-01T00:00:00Z)`);
  return d;
}
