import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Option, type Command } from 'commander';
import { importOutcomeLines, type OutcomeFormat } from '../analytics/outcome-import.js';
import { monthRange } from '../budgets/period.js';
import { loadCostPerOutcome, upsertOutcomePoints, useCaseOutcomes } from '../db/outcomes.js';
import { withDb } from './db.js';
import { createProgress } from './progress.js';

export function outcomeCommands(outcome: Command): void {
  outcome.command('import')
    .description('import outcome points from a CSV (use_case,metric,ts,value) or JSON-lines file; idempotent')
    .argument('<file>')
    .addOption(new Option('--format <format>', 'default: from the extension (.csv, .jsonl/.ndjson)').choices(['csv', 'jsonl']))
    .option('--source <name>', 'recorded with each point', 'import')
    .action(async (file: string, opts: { format?: OutcomeFormat; source: string }) => {
      const format = opts.format ?? formatOf(file);
      const size = fs.statSync(file).size;
      const progress = createProgress(path.basename(file), size);
      const result = await withDb(async (db) => {
        const useCases = new Set((await useCaseOutcomes(db)).keys());
        const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
        return importOutcomeLines(lines, { format, useCases, source: opts.source, write: (batch) => upsertOutcomePoints(db, batch), onProgress: (p) => progress.update(p.bytes, 'bytes') });
      });
      progress.done(`inserted ${result.inserted}, updated ${result.updated}, unchanged ${result.unchanged}, rejected ${result.rejected}`);
      for (const r of result.rejects) process.stderr.write(`  line ${r.line}: ${r.error}${os.EOL}`);
      if (result.rejected > 0) process.exitCode = 2;
    });

  outcome.command('cost')
    .description("cost per outcome of a use case for a month: cost ÷ the metric's change")
    .requiredOption('--use-case <id>', 'use case id')
    .requiredOption('--period <YYYY-MM>', 'the month, UTC')
    .option('--metric <name>', "default: the use case's outcome_metric")
    .action(async (opts: { useCase: string; period: string; metric?: string }) => {
      const report = await withDb((db) => loadCostPerOutcome(db, opts.useCase, monthRange(opts.period), opts.metric));
      if (!report) throw new Error(`unknown use case "${opts.useCase}"`);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    });
}

function formatOf(file: string): OutcomeFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new Error(`cannot tell the format of "${file}" from its extension: pass --format csv|jsonl`);
}
