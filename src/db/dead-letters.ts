import crypto from 'node:crypto';
import type { JournalRecord } from '../metering/types.js';
import type { Db } from './knex.js';

/** Journal records Postgres refused as data, set aside by the metering writer (migration 020b). */

export type DeadLetter = { record: JournalRecord; sqlstate: string | null; error: string; sanitized: boolean };

export type DeadLetterRow = {
  id: number; kind: string; request_id: string; sqlstate: string | null; error: string; record: string; sanitized: boolean; recorded_at: Date;
};

// What is stored beside the record (which is kept whole) stays small: it is what operators list.
const MAX_ERROR_CHARS = 1000;
const MAX_ID_CHARS = 200;

/** Sets a refused record aside; the same record set aside again (a replayed segment) changes nothing. */
export async function insertDeadLetter(db: Db, d: DeadLetter): Promise<void> {
  const line = JSON.stringify(d.record);
  await db('metering_dead_letters')
    .insert({
      digest: crypto.createHash('sha256').update(line).digest('hex'),
      kind: printable(String(d.record.kind), MAX_ID_CHARS),
      request_id: printable(String(d.record.request_id), MAX_ID_CHARS),
      sqlstate: d.sqlstate,
      error: printable(d.error, MAX_ERROR_CHARS),
      record: line,
      sanitized: d.sanitized,
    })
    .onConflict('digest')
    .merge({ sanitized: d.sanitized });
}

export async function listDeadLetters(db: Db, opts: { limit: number; kind?: string }): Promise<DeadLetterRow[]> {
  const q = db('metering_dead_letters').select('*').orderBy('id', 'desc').limit(opts.limit);
  if (opts.kind !== undefined) q.where('kind', opts.kind);
  return (await q) as DeadLetterRow[];
}

// JSON escapes of what the refused record held (its control characters, lone surrogates) are plain text.
function printable(text: string, max: number): string {
  return JSON.stringify(text).slice(1, -1).slice(0, max);
}
