import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { countDecisions, readSpend, sumLedger, usageByRequestId } from '../../src/db/ledger.js';
import { createMeter, type FlushInfo, type MeterOptions } from '../../src/metering/meter.js';
import { sum, toMoney } from '../../src/metering/money.js';
import type { JournalRecord, UsageEvent } from '../../src/metering/types.js';
import { meterBed, NEVER } from '../helpers/meter-bed.js';
import { decisionRecord, silentLog, usageEvent } from './fixtures/events.js';

const tokens = (e: UsageEvent) => e.input_tokens + e.cached_input_tokens + e.cache_write_tokens + e.output_tokens;
const segments = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith('segment-'));
const usageOnly = (records: JournalRecord[]) => records.filter((r): r is UsageEvent => r.kind === 'usage');

function batch(n: number, prefix = 'req'): JournalRecord[] {
  return Array.from({ length: n }, (_, i) => (i % 4 === 3 ? decisionRecord(i, {}, `${prefix}-d`) : usageEvent(i, {}, prefix)));
}

/** A db whose transactions fail while `down`, or commit and then lose the acknowledgement while `lostAck`. */
function flaky(db: Db) {
  const control = { mode: 'ok' as 'ok' | 'down' | 'lostAck' };
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'transaction' || control.mode === 'ok') return Reflect.get(target, prop, receiver) as unknown;
      if (control.mode === 'down') return () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      return (work: Parameters<Db['transaction']>[0]) =>
        target.transaction(work).then(() => {
          throw new Error('Connection terminated unexpectedly');
        });
    },
  });
  return { db: proxy, control };
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('metering writer', () => {
  const bed = meterBed('tollgate-meter-');
  const meterOn = (db: Db, options: Partial<MeterOptions> = {}) => bed.meterOn(db, options);

  async function expectLedgerHolds(records: JournalRecord[]) {
    const usage = usageOnly(records);
    const cost = toMoney(sum(usage.map((e) => e.cost)));
    expect(await sumLedger(bed.t.db)).toMatchObject({
      calls: usage.length,
      input_tokens: usage.reduce((n, e) => n + e.input_tokens, 0),
      output_tokens: usage.reduce((n, e) => n + e.output_tokens, 0),
      cost,
    });
    expect(await countDecisions(bed.t.db)).toBe(records.length - usage.length);
    const spend = await readSpend(bed.t.db);
    expect(spend).toHaveLength(1);
    expect(spend[0]).toMatchObject({ calls: usage.length, cost, tokens: usage.reduce((n, e) => n + tokens(e), 0) });
  }

  it('writes what it recorded to the ledger and spend, and empties the journal', async () => {
    const meter = meterOn(bed.t.db);
    await meter.start();
    const records = batch(200);
    records.forEach((r) => meter.record(r));
    expect(meter.stats()).toMatchObject({ recorded: 200, pending: 200, flushed: 0 });
    await meter.flush();
    await expectLedgerHolds(records);
    const row = await usageByRequestId(bed.t.db, 'req-0');
    expect(row).toMatchObject({ input_tokens: 1000, cost: toMoney(usageEvent(0).cost), model_served: 'claude-sonnet' });
    expect(segments(bed.dir)).toEqual([]);
    expect(meter.stats()).toMatchObject({ recorded: 200, flushed: 200, inserted: 200, pending: 0, pendingSegments: 0, failures: 0 });
  });

  it('writes text as it was recorded, whatever characters it holds', async () => {
    const tricky = ['a "quoted", {braced} value', 'back\\slash \\"', 'NULL', '', '  spaced  ', 'comma,semi;colon', 'ünï — 日本 ✓'];
    const meter = meterOn(bed.t.db);
    await meter.start();
    const usage = tricky.map((text, i) => usageEvent(i, { session_id: text, parent_request_id: i % 2 === 0 ? null : text, policy_revision: text, tools: [`t${i}`] }, 'chars'));
    const denied = tricky.map((text, i) => decisionRecord(i, { message: text, agent_id: text, reasons: [{ code: 'x', message: text }] }, 'chars-denied'));
    [...usage, ...denied].forEach((r) => meter.record(r));
    await meter.flush();
    for (const [i, text] of tricky.entries()) {
      expect(await usageByRequestId(bed.t.db, `chars-${i}`)).toMatchObject({ session_id: text, parent_request_id: i % 2 === 0 ? null : text, policy_revision: text, tools: [`t${i}`] });
      const d = (await bed.t.db('decision_log').where({ request_id: `chars-denied-${i}` }).first()) as { message: string; agent_id: string; reasons: unknown };
      expect(d).toMatchObject({ message: text, agent_id: text, reasons: [{ code: 'x', message: text }] });
    }
  });

  it('does not count the same events twice when they are written again', async () => {
    const records = batch(120);
    const first = meterOn(bed.t.db);
    records.forEach((r) => first.record(r));
    await first.flush();
    await first.close();

    const second = meterOn(bed.t.db);
    const infos: FlushInfo[] = [];
    second.onFlushed((_, info) => infos.push(info));
    records.forEach((r) => second.record(r));
    await second.flush();
    expect(infos).toEqual([{ usageInserted: 0, decisionsInserted: 0, replayed: false }]);
    await expectLedgerHolds(records);
  });

  it('keeps everything while Postgres is down and writes it once it is back', async () => {
    const { db, control } = flaky(bed.t.db);
    const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const meter = meterOn(db, { log });
    control.mode = 'down';
    const before = batch(50, 'a');
    before.forEach((r) => meter.record(r));
    await expect(meter.flush()).rejects.toThrow(/ECONNREFUSED/);
    const during = batch(30, 'b');
    during.forEach((r) => meter.record(r));
    await expect(meter.flush()).rejects.toThrow(/ECONNREFUSED/);
    expect(log.error).toHaveBeenCalledTimes(1); // once per failure streak
    expect(meter.stats()).toMatchObject({ pending: 80, pendingSegments: 2, failures: 2, consecutiveFailures: 2 });
    expect(await sumLedger(bed.t.db)).toMatchObject({ calls: 0 });

    control.mode = 'ok';
    await meter.flush();
    await expectLedgerHolds([...before, ...during]);
    expect(meter.stats()).toMatchObject({ pending: 0, pendingSegments: 0, consecutiveFailures: 0 });
    expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ failedAttempts: 2 }), expect.stringContaining('recovered'));
  });

  it('does not double count a batch whose commit succeeded but whose answer was lost', async () => {
    const { db, control } = flaky(bed.t.db);
    const meter = meterOn(db);
    const records = batch(40);
    records.forEach((r) => meter.record(r));
    control.mode = 'lostAck';
    await expect(meter.flush()).rejects.toThrow(/terminated/);
    expect(segments(bed.dir)).toHaveLength(1); // kept: the writer cannot know it committed
    control.mode = 'ok';
    await meter.flush();
    await expectLedgerHolds(records);
    expect(segments(bed.dir)).toEqual([]);
  });

  it('retries on its own timer, with backoff, until the write succeeds', async () => {
    const { db, control } = flaky(bed.t.db);
    control.mode = 'down';
    const meter = meterOn(db, { flushIntervalMs: 5, maxRetryDelayMs: 20 });
    await meter.start();
    const records = batch(25);
    records.forEach((r) => meter.record(r));
    await vi.waitFor(() => expect(meter.stats().failures).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    control.mode = 'ok';
    await vi.waitFor(() => expect(meter.stats()).toMatchObject({ pending: 0, consecutiveFailures: 0 }), { timeout: 10_000 });
    await expectLedgerHolds(records);
  });

  it('flushes as soon as a batch is full', async () => {
    const meter = meterOn(bed.t.db, { batchSize: 10 });
    await meter.start();
    const records = batch(10).map((r, i) => usageEvent(i, {}, r.request_id));
    records.forEach((r) => meter.record(r));
    await vi.waitFor(async () => expect((await sumLedger(bed.t.db)).calls).toBe(10), { timeout: 10_000 });
  });

  it('replays at start what a previous meter on the directory recorded but never flushed', async () => {
    const crashed = createMeter({ db: bed.t.db, journalDir: bed.dir, flushIntervalMs: NEVER, batchSize: 1000, log: silentLog });
    const records = batch(60, 'old');
    records.slice(0, 30).forEach((r) => crashed.record(r));
    await crashed.flush(); // some of it made it, the rest did not
    records.slice(30).forEach((r) => crashed.record(r));
    // What a crashed process leaves behind: its journal and a lock naming a pid that no longer runs.
    fs.writeFileSync(path.join(bed.dir, 'journal.lock'), JSON.stringify({ pid: deadPid(), token: 'crashed' }));

    const meter = meterOn(bed.t.db);
    const flushed: { records: JournalRecord[]; info: FlushInfo }[] = [];
    meter.onFlushed((r, info) => flushed.push({ records: r, info }));
    await meter.start();
    await expectLedgerHolds(records);
    expect(segments(bed.dir)).toEqual([]);
    expect(flushed.flatMap((f) => f.records)).toEqual(records.slice(30));
    expect(flushed.every((f) => f.info.replayed)).toBe(true);

    const fresh = batch(5, 'new');
    fresh.forEach((r) => meter.record(r));
    await meter.flush();
    expect(flushed.at(-1)).toMatchObject({ records: fresh, info: { replayed: false } });
    await expectLedgerHolds([...records, ...fresh]);
  });

  it('sets aside a record Postgres refuses, writes its sanitized copy and the rest', async () => {
    const meter = meterOn(bed.t.db);
    const good = batch(20);
    const bad = usageEvent(99, { cost: 'not money' });
    const refused = usageEvent(98, { status: null as unknown as number });
    [...good.slice(0, 10), bad, refused, ...good.slice(10)].forEach((r) => meter.record(r));
    await meter.flush();
    const dead = (await bed.t.db('metering_dead_letters').orderBy('id')) as { request_id: string; record: string; sanitized: boolean }[];
    expect(dead.map((d) => [d.request_id, d.sanitized])).toEqual([[bad.request_id, true], [refused.request_id, true]]);
    expect(JSON.parse(dead[0]!.record)).toEqual(bad);
    expect(await usageByRequestId(bed.t.db, bad.request_id)).toMatchObject({ cost: '0.000000000000', flags: ['sanitized'] });
    expect(await usageByRequestId(bed.t.db, refused.request_id)).toMatchObject({ status: 0, flags: ['sanitized'] });
    expect(fs.existsSync(path.join(bed.dir, 'rejected.jsonl'))).toBe(false);
    expect(meter.stats()).toMatchObject({ rejected: 2, sanitized: 2, pendingSegments: 0 });
  });

  it('counts the rows of a batch part that committed before a refused record, once', async () => {
    // A group of 6,001 records goes in two transactions; the refused record is in the second, which is then
    // halved until the refused record is alone (the first's are in), and that record's sanitized copy written.
    const meter = meterOn(bed.t.db, { batchSize: 10_000 });
    const flushed: FlushInfo[] = [];
    meter.onFlushed((_, info) => flushed.push(info));
    const good = batch(6000);
    const refused = usageEvent(98, { status: null as unknown as number }, 'refused');
    [...good, refused].forEach((r) => meter.record(r));
    await meter.flush();
    expect(await sumLedger(bed.t.db)).toMatchObject({ calls: usageOnly(good).length + 1 });
    expect(meter.stats()).toMatchObject({ inserted: 6001, flushed: 6001, rejected: 1, sanitized: 1, pendingSegments: 0 });
    expect(flushed).toEqual([{ usageInserted: usageOnly(good).length + 1, decisionsInserted: 1500, replayed: false }]);
  }, 60_000);

  it('never runs two flushes at once, and a flush called during another writes what came after', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const real = bed.t.db;
    const counting = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'transaction') return Reflect.get(target, prop, receiver) as unknown;
        return async (work: Parameters<Db['transaction']>[0]) => {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          try {
            return await target.transaction(work);
          } finally {
            inFlight--;
          }
        };
      },
    });
    const m = meterOn(counting);
    const all: JournalRecord[] = [];
    const flushes: Promise<void>[] = [];
    for (let round = 0; round < 5; round++) {
      const records = batch(20, `r${round}`);
      records.forEach((r) => m.record(r));
      all.push(...records);
      flushes.push(m.flush(), m.flush());
    }
    await Promise.all(flushes);
    expect(maxInFlight).toBe(1);
    await expectLedgerHolds(all);
  });

  it('closes with a final flush and refuses records afterwards', async () => {
    const meter = meterOn(bed.t.db);
    await meter.start();
    const records = batch(15);
    records.forEach((r) => meter.record(r));
    await meter.close();
    await expectLedgerHolds(records);
    expect(() => meter.record(usageEvent(1000))).toThrow(/after close/);
    expect(fs.existsSync(path.join(bed.dir, 'journal.lock'))).toBe(false);
  });

  it('keeps the journal when the final flush fails, for the next start', async () => {
    const { db, control } = flaky(bed.t.db);
    const meter = meterOn(db);
    const records = batch(12);
    records.forEach((r) => meter.record(r));
    control.mode = 'down';
    await meter.close();
    expect(segments(bed.dir)).toHaveLength(1);

    const next = meterOn(bed.t.db);
    await next.start();
    await expectLedgerHolds(records);
  });
});
