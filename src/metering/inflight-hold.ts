import { endedCalls } from '../db/ledger.js';
import type { InflightRecord, JournalRecord } from './types.js';

/**
 * The in-flight records a flush keeps in the journal rather than write: a call that started less than `graceMs`
 * ago is most likely to end before the next flushes, and its usage event then clears a row that need never have
 * been written (an insert and a delete per call: most of the writer's Postgres work when calls take a second or
 * more, ingest bench). A call whose usage is among `records` is left to the writer, which skips its row
 * (src/db/ledger.ts); a call older than `graceMs`, or whose lease expires within `graceMs`, gets its row, so
 * that another replica can meter it if this one dies. Until then the record stays in this replica's journal, which
 * is what meters it after a crash (replayed at start, never held).
 */
export function heldInflight(records: readonly JournalRecord[], now: number, graceMs: number): Set<InflightRecord> {
  const held = new Set<InflightRecord>();
  if (graceMs <= 0) return held;
  const ended = endedCalls(records);
  for (const r of records) {
    if (r.kind !== 'inflight' || ended.has(r.request_id)) continue;
    if (now < Date.parse(r.ts) + graceMs && now + graceMs < Date.parse(r.expires_at)) held.add(r);
  }
  return held;
}
