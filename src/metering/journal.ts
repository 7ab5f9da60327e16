import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JournalRecord } from './types.js';

/**
 * The durable local journal: JSON lines appended with a synchronous write to a segment file. Once
 * append() returns, the line is in the kernel's page cache, so it survives the process being killed
 * (SIGKILL, OOM); it does not survive the machine losing power, which would need an fsync per call.
 *
 * Segments are `segment-<seq>.jsonl`; the writer rolls the current segment, writes its records to
 * Postgres, then discards it. Whatever is left in the directory at start is replayed.
 */

export type JournalLog = {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export interface Journal {
  readonly dir: string;
  /** Appends one record; durable against a process crash when it returns. */
  append(record: JournalRecord): void;
  /** Appends records already serialized (JSON, one per string), in one write. */
  appendLines(lines: readonly string[]): void;
  /** Closes the current segment and returns its path, or null when nothing was appended since the last roll. */
  roll(): string | null;
  /** Closed segments not yet discarded, oldest first (includes segments left by an earlier process). */
  pendingSegments(): string[];
  readSegment(file: string): JournalRecord[];
  /** Deletes a segment whose records are in Postgres. */
  discard(file: string): void;
  /** Closes the current segment (it stays pending) and releases the lock. */
  close(): void;
}

const SEGMENT = /^segment-(\d+)\.jsonl$/;
const SEQ_DIGITS = 12;
const LOCK_FILE = 'journal.lock';

export class JournalLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`journal directory ${dir} is in use by process ${pid}; only one tollgate process may use a journal directory (set TOLLGATE_JOURNAL_DIR per process)`);
    this.name = 'JournalLockedError';
  }
}

export function openJournal(dir: string, log: JournalLog): Journal {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });
  const lock = acquireLock(root);
  let nextSeq = Math.max(0, ...listSegments(root).map(seqOf)) + 1;
  let current: { fd: number; file: string } | null = null;

  const openCurrent = () => {
    const file = path.join(root, `segment-${String(nextSeq++).padStart(SEQ_DIGITS, '0')}.jsonl`);
    current = { fd: fs.openSync(file, 'a'), file };
    return current;
  };

  const roll = () => {
    if (!current) return null;
    const { fd, file } = current;
    current = null;
    fs.closeSync(fd);
    return file;
  };

  return {
    dir: root,
    append(record) {
      const { fd } = current ?? openCurrent();
      writeAll(fd, Buffer.from(`${JSON.stringify(record)}\n`));
    },
    appendLines(lines) {
      if (lines.length === 0) return;
      const { fd } = current ?? openCurrent();
      writeAll(fd, Buffer.from(`${lines.join('\n')}\n`));
    },
    roll,
    pendingSegments() {
      return listSegments(root).filter((f) => f !== current?.file);
    },
    readSegment: (file) => readSegment(file, log),
    discard(file) {
      fs.rmSync(file, { force: true });
    },
    close() {
      roll();
      lock.release();
    },
  };
}

/** Parses a segment; a line that is not a whole record (a write torn by a crash) is skipped, not fatal. */
export function readSegment(file: string, log: JournalLog): JournalRecord[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const records: JournalRecord[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    const record = parseRecord(line);
    if (record) records.push(record);
    else if (i === lines.length - 1) log.warn({ file, line: i + 1 }, 'journal: skipped a torn last line (the writing process crashed mid-append)');
    else log.error({ file, line: i + 1, text: line.slice(0, 200) }, 'journal: skipped a corrupt line');
  });
  return records;
}

/** Every kind the metering writer knows; a line of any other kind is not a record (skipped with a warning). */
const RECORD_KINDS: ReadonlySet<string> = new Set<JournalRecord['kind']>(['usage', 'decision', 'tier', 'inflight']);

function parseRecord(line: string): JournalRecord | null {
  try {
    const value = JSON.parse(line) as Partial<JournalRecord> | null;
    const ok = value !== null && typeof value === 'object' && RECORD_KINDS.has(String(value.kind)) && typeof value.request_id === 'string';
    return ok ? (value as JournalRecord) : null;
  } catch {
    return null;
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let offset = 0;
  while (offset < buf.length) offset += fs.writeSync(fd, buf, offset, buf.length - offset);
}

function listSegments(root: string): string[] {
  return fs
    .readdirSync(root)
    .filter((name) => SEGMENT.test(name))
    .sort()
    .map((name) => path.join(root, name));
}

function seqOf(file: string): number {
  return Number(SEGMENT.exec(path.basename(file))![1]);
}

// Locks held by this process, by token: a lock file naming our own pid but not one of these tokens was
// left by an earlier process that had the same pid (a restarted container is pid 1 again).
const heldTokens = new Set<string>();

type LockInfo = { pid: number; token: string };

function acquireLock(root: string): { release(): void } {
  const file = path.join(root, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, token: crypto.randomUUID() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, mine)) {
      heldTokens.add(mine.token);
      return { release: () => releaseLock(file, mine) };
    }
    const holder = readLock(file);
    if (holder && isLive(holder)) throw new JournalLockedError(root, holder.pid);
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new Error(`could not take the journal lock ${file}: it keeps being recreated`);
}

// Written aside and hard-linked into place, so that a lock file is never seen half-written.
function tryCreate(file: string, info: LockInfo): boolean {
  const tmp = `${file}.${info.token}`;
  fs.writeFileSync(tmp, `${JSON.stringify(info)}\n`);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? { pid: info.pid, token: info.token } : null;
  } catch {
    return null; // gone, empty or garbage: nobody can be relying on it
  }
}

function isLive(holder: LockInfo): boolean {
  if (holder.pid === process.pid) return heldTokens.has(holder.token);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function releaseLock(file: string, mine: LockInfo): void {
  heldTokens.delete(mine.token);
  if (readLock(file)?.token === mine.token) fs.rmSync(file, { force: true });
}
