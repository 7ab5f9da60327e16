import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JournalLockedError, openJournal, readSegment, type Journal } from '../../../src/metering/journal.js';
import { decisionRecord, usageEvent } from '../../integration/fixtures/events.js';
import type { JournalRecord } from '../../../src/metering/types.js';

const log = () => ({ warn: vi.fn(), error: vi.fn() });

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

describe('journal', () => {
  let dir: string;
  const open: Journal[] = [];
  const openAt = (d = dir, l = log()) => {
    const j = openJournal(d, l);
    open.push(j);
    return j;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-journal-'));
  });
  afterEach(() => {
    for (const j of open.splice(0)) j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('appends lines to a segment, rolls it, and reads the records back', () => {
    const j = openAt();
    expect(j.roll()).toBeNull();
    j.append(usageEvent(1));
    j.append(decisionRecord(2));
    expect(j.pendingSegments()).toEqual([]);
    const first = j.roll()!;
    expect(path.basename(first)).toMatch(/^segment-0+1\.jsonl$/);
    j.append(usageEvent(3));
    expect(j.pendingSegments()).toEqual([first]);
    const second = j.roll()!;
    expect(j.pendingSegments()).toEqual([first, second]);
    expect(j.readSegment(first)).toEqual([usageEvent(1), decisionRecord(2)]);
    expect(j.readSegment(second)).toEqual([usageEvent(3)]);
    j.discard(first);
    expect(j.pendingSegments()).toEqual([second]);
    expect(fs.existsSync(first)).toBe(false);
  });

  it('appends records already serialized, in one write, after the ones appended one by one', () => {
    const j = openAt();
    j.appendLines([]);
    expect(j.roll()).toBeNull();
    j.append(usageEvent(1));
    j.appendLines([JSON.stringify(usageEvent(2)), JSON.stringify(decisionRecord(3))]);
    expect(j.readSegment(j.roll()!)).toEqual([usageEvent(1), usageEvent(2), decisionRecord(3)]);
  });

  it('reads back every kind the writer knows: usage, decisions, tier crossings and calls in flight', () => {
    const j = openAt();
    const tier: JournalRecord = { kind: 'tier', budget_id: 1, period_start: '2026-11-01T00:00:00.000Z', key: '', tier: 'notice', ratio: 0.5, spent: 5, limit: 10, unit: 'usd', request_id: 'r-t', ts: '2026-11-02T00:00:00.000Z' };
    const inflight: JournalRecord = { kind: 'inflight', request_id: 'r-i', ts: '2026-11-02T00:00:00.000Z', expires_at: '2026-11-02T00:21:00.000Z', fallback: usageEvent(9) };
    for (const r of [usageEvent(1), decisionRecord(2), tier, inflight]) j.append(r);
    expect(j.readSegment(j.roll()!)).toEqual([usageEvent(1), decisionRecord(2), tier, inflight]);
  });

  it('writes each append through to the file before returning', () => {
    const j = openAt();
    j.append(usageEvent(1));
    const [file] = fs.readdirSync(dir).filter((f) => f.startsWith('segment-'));
    expect(fs.readFileSync(path.join(dir, file!), 'utf8')).toBe(`${JSON.stringify(usageEvent(1))}\n`);
  });

  it('continues numbering after segments left by an earlier process, and lists them as pending', () => {
    const first = openAt();
    first.append(usageEvent(1));
    first.roll();
    first.append(usageEvent(2)); // never rolled: the process "died" here
    first.close();
    open.splice(0);
    const next = openAt();
    const left = next.pendingSegments();
    expect(left.map((f) => path.basename(f))).toEqual(['segment-000000000001.jsonl', 'segment-000000000002.jsonl']);
    next.append(usageEvent(3));
    expect(path.basename(next.roll()!)).toBe('segment-000000000003.jsonl');
    expect(left.flatMap((f) => next.readSegment(f))).toEqual([usageEvent(1), usageEvent(2)]);
  });

  it('skips a torn last line with a warning', () => {
    const file = path.join(dir, 'segment-000000000001.jsonl');
    const whole = `${JSON.stringify(usageEvent(1))}\n${JSON.stringify(usageEvent(2))}\n`;
    fs.writeFileSync(file, whole + JSON.stringify(usageEvent(3)).slice(0, 40));
    const l = log();
    expect(readSegment(file, l)).toEqual([usageEvent(1), usageEvent(2)]);
    expect(l.warn).toHaveBeenCalledTimes(1);
    expect(l.warn.mock.calls[0]![0]).toMatchObject({ file, line: 3 });
    expect(l.error).not.toHaveBeenCalled();
  });

  it('skips a corrupt line in the middle but reports it as an error, and ignores non-records', () => {
    const file = path.join(dir, 'segment-000000000001.jsonl');
    fs.writeFileSync(file, [JSON.stringify(usageEvent(1)), '{"kind":"usage","request_', JSON.stringify({ kind: 'other' }), JSON.stringify(usageEvent(2)), ''].join('\n'));
    const l = log();
    expect(readSegment(file, l)).toEqual([usageEvent(1), usageEvent(2)]);
    expect(l.error).toHaveBeenCalledTimes(2);
  });

  it('refuses a directory another live process holds, naming the directory', () => {
    fs.writeFileSync(path.join(dir, 'journal.lock'), JSON.stringify({ pid: process.ppid, token: 'other' }));
    expect(() => openJournal(dir, log())).toThrow(JournalLockedError);
    expect(() => openJournal(dir, log())).toThrow(dir);
  });

  it('refuses a second journal on the same directory in the same process', () => {
    openAt();
    expect(() => openJournal(dir, log())).toThrow(/in use by process/);
  });

  it('takes over a stale lock whose process is dead, and releases its own on close', () => {
    const lock = path.join(dir, 'journal.lock');
    fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), token: 'crashed' }));
    const j = openJournal(dir, log());
    expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ pid: process.pid });
    j.close();
    expect(fs.existsSync(lock)).toBe(false);
    openAt(); // free again
  });

  it('takes over a lock with our own pid left by an earlier incarnation (a restarted container)', () => {
    fs.writeFileSync(path.join(dir, 'journal.lock'), JSON.stringify({ pid: process.pid, token: 'previous-boot' }));
    expect(() => openAt()).not.toThrow();
  });

  it('takes over a garbage lock file', () => {
    fs.writeFileSync(path.join(dir, 'journal.lock'), '');
    expect(() => openAt()).not.toThrow();
  });
});
