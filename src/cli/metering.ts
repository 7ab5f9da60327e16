import { InvalidArgumentError, type Command } from 'commander';
import { listDeadLetters } from '../db/dead-letters.js';
import { withDb } from './db.js';

export function meteringCommands(metering: Command): void {
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

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}
