import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { insertDeadLetter } from '../db/dead-letters.js';
import type { Db } from '../db/knex.js';
import { writeBatch, type WriteResult } from '../db/ledger.js';
import { openJournal, type Journal } from './journal.js';
import { heldInflight } from './inflight-hold.js';
import { sanitizeRecord } from './sanitize.js';
import type { JournalRecord } from './types.js';

/**
 * The meter: record() is the hot path (a synchronous journal append plus an in-memory batch, no I/O
 * wait on Postgres); a writer flushes closed journal segments to the ledger every flushIntervalMs, or
 * sooner when a batch is full. A segment is deleted only after its transactions committed, and writes are
 * idempotent on request_id, so a crash or a failed write at any point loses nothing and counts nothing
 * twice: whatever is still in the journal directory is written (again) by the next flush or start().
 */

export type MeterLog = {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
};

export type MeterOptions = {
  db: Db;
  journalDir: string;
  flushIntervalMs: number;
  batchSize: number;
  log: MeterLog;
  /** Longest wait between retries while Postgres is failing. */
  maxRetryDelayMs?: number;
  /** How long an in-flight record may wait in the journal for its call's usage (src/metering/inflight-hold.ts); 0: written at the first flush. */
  inflightGraceMs?: number;
};

export type FlushInfo = WriteResult & {
  /** true for records journaled by an earlier process (replayed at start), false for this process's own. */
  replayed: boolean;
};

export type FlushListener = (records: JournalRecord[], info: FlushInfo) => void;

export type MeterStats = {
  /** Records this process recorded. */
  recorded: number;
  /** The same, by kind (usage events, decisions, tier crossings, calls in flight). */
  recordedByKind: Record<JournalRecord['kind'], number>;
  /** Records written to Postgres (including replayed ones and ones that were already there). */
  flushed: number;
  /** Rows newly inserted into usage_events and decision_log. */
  inserted: number;
  /** Records of this process journaled but not yet written. */
  pending: number;
  pendingSegments: number;
  /** Failed flush attempts, in total and in the current streak. */
  failures: number;
  consecutiveFailures: number;
  /** Records Postgres refused as data (not an outage), set aside in metering_dead_letters. */
  rejected: number;
  /** Of those, the ones whose sanitized copy was written (the call is in the ledger, flagged). */
  sanitized: number;
  /** When the oldest record not yet written was journaled (or, replayed from an earlier process, taken over); null when none. */
  oldestPendingAt: number | null;
  lastFlushMs: number | null;
  lastFlushAt: string | null;
};

export interface Meter {
  /** Journals the record and adds it to the batch; never waits for Postgres. Throws only if the journal cannot be written. */
  record(record: JournalRecord): void;
  /** Writes everything recorded so far (waits for a running flush, never runs two at once). Rejects if the write failed. */
  flush(): Promise<void>;
  /** Replays segments left by an earlier process, then starts the flush timer. Does not reject when Postgres is away. */
  start(): Promise<void>;
  /** Final flush (failures are logged; the journal keeps the records for the next start), then releases the journal. */
  close(): Promise<void>;
  onFlushed(listener: FlushListener): void;
  stats(): MeterStats;
}

export const DEFAULT_MAX_RETRY_DELAY_MS = 5000;
// Closed segments of this process keep their records in memory up to this many; beyond it (a long
// outage) they are re-read from disk when their turn comes, so memory stays bounded.
const MAX_RETAINED_RECORDS = 100_000;
// Where a refused record goes only when Postgres refuses its dead letter too.
const REJECTED_FILE = 'rejected.jsonl';

export function createMeter(options: MeterOptions): Meter {
  const { db, log, batchSize, flushIntervalMs } = options;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  const inflightGraceMs = options.inflightGraceMs ?? 0;
  const journal: Journal = openJournal(options.journalDir, log);
  const listeners: FlushListener[] = [];
  /** Closed segments this process wrote: their records (null when they must be re-read from disk). */
  const ownSegments = new Map<string, { records: JournalRecord[] | null; count: number; since: number }>();
  let current: JournalRecord[] = [];
  let currentSince = 0;
  const createdAt = Date.now();
  let retained = 0;
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let state: 'created' | 'started' | 'closed' = 'created';
  let released = false;
  const counts = { recorded: 0, flushed: 0, inserted: 0, failures: 0, consecutiveFailures: 0, rejected: 0, sanitized: 0 };
  const byKind: Record<JournalRecord['kind'], number> = { usage: 0, decision: 0, tier: 0, inflight: 0 };
  let last: { ms: number; at: string } | null = null;

  const rollCurrent = () => {
    const file = journal.roll();
    if (!file) return;
    const keep = retained + current.length <= MAX_RETAINED_RECORDS;
    ownSegments.set(file, { records: keep ? current : null, count: current.length, since: currentSince });
    if (keep) retained += current.length;
    current = [];
  };

  /** Runs one append to the current segment: a torn line must stay the last line of its segment. */
  const appendCurrent = (append: () => void) => {
    if (current.length === 0) currentSince = Date.now();
    try {
      append();
    } catch (err) {
      rollCurrent();
      throw err;
    }
  };

  // Held in-flight records move to the current segment at every flush until their call ends or they are written:
  // each is serialized once (a record is ~1 KB of JSON), then appended as that text.
  const heldLines = new WeakMap<JournalRecord, string>();
  const carry = (records: Iterable<JournalRecord>) => {
    const moved = [...records];
    if (moved.length === 0) return;
    const lines = moved.map((r) => {
      let line = heldLines.get(r);
      if (line === undefined) heldLines.set(r, (line = JSON.stringify(r)));
      return line;
    });
    appendCurrent(() => journal.appendLines(lines));
    current.push(...moved);
  };

  const load = (file: string): JournalRecord[] => ownSegments.get(file)?.records ?? journal.readSegment(file);

  const forget = (file: string) => {
    retained -= ownSegments.get(file)?.records?.length ?? 0;
    ownSegments.delete(file);
    journal.discard(file);
  };

  /** Consecutive pending segments of one origin, about batchSize records per group. */
  function* groups(): Generator<{ files: string[]; records: JournalRecord[]; replayed: boolean }> {
    let group: { files: string[]; records: JournalRecord[]; replayed: boolean } | null = null;
    for (const file of journal.pendingSegments()) {
      const replayed = !ownSegments.has(file);
      if (group && (group.replayed !== replayed || group.records.length >= batchSize)) {
        yield group;
        group = null;
      }
      group ??= { files: [], records: [], replayed };
      group.files.push(file);
      group.records.push(...load(file));
    }
    if (group) yield group;
  }

  // What a batch inserted is counted as each of its transactions commits: a batch of several transactions can
  // fail after some committed, and its retry (or the halving pass) then finds their rows written.
  const write = async (records: JournalRecord[]): Promise<WriteResult> => {
    const total: WriteResult = { usageInserted: 0, decisionsInserted: 0 };
    const committed = (r: WriteResult) => {
      total.usageInserted += r.usageInserted;
      total.decisionsInserted += r.decisionsInserted;
      counts.inserted += r.usageInserted + r.decisionsInserted;
    };
    await writeSplitting(records, committed);
    return total;
  };

  // Postgres refused the data itself (a NUL byte, an index row too large, a constraint): retrying would block
  // the journal forever. The batch is halved until the refused record is alone (a few transactions per refused
  // record, not one per record of the batch), that record is set aside and the others are written.
  const writeSplitting = async (records: JournalRecord[], committed: (r: WriteResult, n: number) => void): Promise<void> => {
    let written = 0;
    try {
      await writeBatch(db, records, (r, n) => {
        committed(r, n);
        written += n;
      });
      return;
    } catch (err) {
      if (!isBadData(err)) throw err;
      // The records of the transactions that committed are in; the refused one is among the rest.
      const rest = records.slice(written);
      if (rest.length === 1) return setAside(rest[0]!, err, committed);
      const half = Math.ceil(rest.length / 2);
      await writeSplitting(rest.slice(0, half), committed);
      await writeSplitting(rest.slice(half), committed);
    }
  };

  /**
   * A refused record goes to metering_dead_letters as it was, and its sanitized copy (sanitize.ts) is written in
   * its place: a call the upstream served still ends in the ledger, flagged. Both are idempotent, so a replay of
   * the segment after a crash here sets nothing aside twice.
   */
  const setAside = async (record: JournalRecord, refusal: unknown, committed: (r: WriteResult, n: number) => void): Promise<void> => {
    const copy = sanitizeRecord(record);
    let sanitized = false;
    if (copy !== null) {
      try {
        await writeBatch(db, [copy], committed);
        sanitized = true;
      } catch (err) {
        if (!isBadData(err)) throw err;
      }
    }
    const sqlstate = sqlstateOf(refusal);
    const error = refusalMessage(refusal, sqlstate);
    try {
      await insertDeadLetter(db, { record, sqlstate, error, sanitized });
    } catch (err) {
      if (!isBadData(err)) throw err;
      fs.appendFileSync(path.join(journal.dir, REJECTED_FILE), `${JSON.stringify(record)}\n`);
      log.error({ err, request_id: record.request_id, file: REJECTED_FILE }, 'metering: Postgres refused a dead letter too; set aside in the journal directory');
    }
    counts.rejected++;
    if (sanitized) counts.sanitized++;
    log.error(
      { err: refusal, sqlstate, kind: record.kind, request_id: record.request_id, sanitized },
      sanitized
        ? 'metering: Postgres refused a record; its sanitized copy was written (flagged) and the original set aside in metering_dead_letters'
        : 'metering: Postgres refused a record; set aside in metering_dead_letters',
    );
  };

  const notify = (records: JournalRecord[], info: FlushInfo) => {
    for (const listener of listeners) {
      try {
        listener(records, info);
      } catch (err) {
        log.error({ err }, 'metering: an onFlushed listener threw');
      }
    }
  };

  const flushOnce = async () => {
    const started = performance.now();
    rollCurrent();
    try {
      for (const { files, records, replayed } of groups()) {
        // A replayed group's calls died with their process; a closing meter writes everything.
        const held = replayed || state !== 'started' ? new Set<JournalRecord>() : heldInflight(records, Date.now(), inflightGraceMs);
        const written = held.size === 0 ? records : records.filter((r) => !held.has(r));
        const result = await write(written);
        // Appended to the current segment before the group's segments go: a crash in between leaves a record
        // twice in the journal, which its replay writes once (on conflict, do nothing).
        carry(held);
        files.forEach(forget);
        counts.flushed += written.length;
        notify(written, { ...result, replayed });
      }
    } catch (err) {
      counts.failures++;
      if (counts.consecutiveFailures++ === 0) {
        log.error({ err, pendingSegments: journal.pendingSegments().length }, 'metering: writing to Postgres failed; events stay in the journal and are retried');
      }
      throw err;
    }
    if (counts.consecutiveFailures > 0) log.info({ failedAttempts: counts.consecutiveFailures }, 'metering: writing to Postgres recovered');
    counts.consecutiveFailures = 0;
    last = { ms: performance.now() - started, at: new Date().toISOString() };
  };

  const flush = (): Promise<void> => {
    if (released) return Promise.resolve();
    if (!running) {
      running = flushOnce().finally(() => {
        running = null;
      });
      return running;
    }
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return flush();
      });
    return queued;
  };

  const retryDelay = () =>
    counts.consecutiveFailures === 0 ? flushIntervalMs : Math.min(flushIntervalMs * 2 ** counts.consecutiveFailures, maxRetryDelayMs);

  const schedule = () => {
    if (state !== 'started') return;
    timer = setTimeout(() => {
      flush()
        .catch(() => undefined) // logged once per streak by flushOnce
        .finally(schedule);
    }, retryDelay());
    timer.unref();
  };

  return {
    record(record) {
      if (state === 'closed') throw new Error('metering: record() after close(); the journal is released');
      appendCurrent(() => journal.append(record));
      current.push(record);
      counts.recorded++;
      byKind[record.kind]++;
      if (current.length >= batchSize && state === 'started' && counts.consecutiveFailures === 0 && !queued) {
        flush().catch(() => undefined);
      }
    },
    flush,
    async start() {
      if (state !== 'created') return;
      state = 'started';
      await flush().catch(() => undefined); // logged by flushOnce; the timer retries with backoff
      schedule();
    },
    async close() {
      if (state === 'closed') return;
      state = 'closed';
      clearTimeout(timer);
      try {
        await flush();
      } catch {
        log.warn({ pendingSegments: journal.pendingSegments().length, dir: journal.dir }, 'metering: final flush failed; the journal keeps the events for the next start');
      }
      journal.close();
      released = true;
    },
    onFlushed(listener) {
      listeners.push(listener);
    },
    stats() {
      let pending = current.length;
      let oldest = current.length > 0 ? currentSince : Infinity;
      for (const { count, since } of ownSegments.values()) {
        pending += count;
        oldest = Math.min(oldest, since);
      }
      const segments = journal.pendingSegments();
      if (segments.some((file) => !ownSegments.has(file))) oldest = Math.min(oldest, createdAt);
      return {
        ...counts,
        recordedByKind: { ...byKind },
        pending,
        pendingSegments: segments.length,
        oldestPendingAt: Number.isFinite(oldest) ? oldest : null,
        lastFlushMs: last?.ms ?? null,
        lastFlushAt: last?.at ?? null,
      };
    },
  };
}

/**
 * SQLSTATE classes in which Postgres refuses the data itself, which retrying cannot fix: 22 data exception (a
 * NUL byte, an untranslatable escape in jsonb, a value out of range), 23 integrity constraint violation, 54
 * program limit exceeded (an index row too large). Every other class is an outage or contention to retry: 08
 * connection, 40 serialization or deadlock, 53 insufficient resources, 55 lock not available, 57 operator
 * intervention (a cancelled statement, a shutdown), 58 system error, XX internal; and 42 (an undefined table, a
 * missing privilege) fails every record alike, so setting records aside would only empty the journal.
 */
const BAD_DATA_CLASSES: ReadonlySet<string> = new Set(['22', '23', '54']);

/** Errors that retrying cannot fix: Postgres refusing the data (above), or values the batch could not encode. */
export function isBadData(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = sqlstateOf(err);
  return code !== null && BAD_DATA_CLASSES.has(code.slice(0, 2));
}

/** Postgres' own message: knex puts the statement (long, with its CTEs) before it, ` - ` between. */
function refusalMessage(err: unknown, sqlstate: string | null): string {
  const message = err instanceof Error ? err.message : String(err);
  return sqlstate === null ? message : message.slice(message.lastIndexOf(' - ') + 3);
}

function sqlstateOf(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}
