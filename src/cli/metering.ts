import { InvalidArgumentError, Option, type Command } from 'commander';
import { listDeadLetters } from '../db/dead-letters.js';
import { listReviews } from '../db/usage-review.js';
import type { UsageReview } from '../metering/types.js';
import { withDb } from './db.js';

export function meteringCommands(metering: Command): void {
  metering.command('review')
    .description('calls not billed as their provider reported (usage past what was possible, or not token counts), newest first')
    .addOption(new Option('--reason <reason>', 'only this reason').choices(['over_bound', 'usage_invalid']))
    .option('--bu <id>', 'only this business unit')
    .option('--since <date>', 'calls at or after this time (ISO 8601)', isoDate)
    .option('--limit <n>', 'how many', positiveInt, 50)
    .option('--json', 'one JSON object per line')
    .action(async (opts: { reason?: UsageReview['reason']; bu?: string; since?: Date; limit: number; json?: boolean }) => {
      const rows = await withDb((db) => listReviews(db, { reason: opts.reason, buId: opts.bu, from: opts.since, limit: opts.limit }));
      if (opts.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      console.table(rows.map((r) => ({
        at: new Date(r.ts).toISOString(), request_id: r.request_id, bu: r.bu_id, use_case: r.use_case_id, model: r.model_served, reason: r.reason,
        reported: JSON.stringify(r.reported), reported_cost: r.reported_cost ?? '', billed_cost: r.billed_cost ?? '',
        bound: `${r.bound_input_tokens} in / ${r.bound_output_tokens} out`,
      })));
    });

  metering.command('dead-letters')
    .description('records Postgres refused as data, newest first (each was set aside so that the rest kept flowing)')
    .option('--limit <n>', 'how many', positiveInt, 50)
    .option('--kind <kind>', 'usage, decision, tier or inflight')
    .option('--json', 'one JSON object per line, with the record as it was journaled')
    .action(async (opts: { limit: number; kind?: string; json?: boolean }) => {
      const rows = await withDb((db) => listDeadLetters(db, { limit: opts.limit, kind: opts.kind }));
      if (opts.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify({ ...r, record: JSON.parse(r.record) as unknown })}\n`);
        return;
      }
      console.table(rows.map((r) => ({
        id: Number(r.id), at: new Date(r.recorded_at).toISOString(), kind: r.kind, request_id: r.request_id,
        sqlstate: r.sqlstate ?? '', sanitized_copy_written: r.sanitized, error: r.error.slice(0, 80),
      })));
    });
}

function isoDate(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('must be a date, e.g. 2026-11-01 or 2026-11-01T12:00:00Z');
  return d;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}
