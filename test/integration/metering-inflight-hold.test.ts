import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { createMeter, type Meter } from '../../src/metering/meter.js';
import type { InflightRecord, UsageEvent } from '../../src/metering/types.js';
import { meterBed, NEVER } from '../helpers/meter-bed.js';
import { silentLog, usageEvent } from './fixtures/events.js';

/**
 * A call's in-flight record waits in the journal (TOLLGATE_INFLIGHT_GRACE_MS) for its usage event, so that a call
 * that ends soon costs Postgres no in-flight row; src/metering/inflight-hold.ts says which wait.
 */

const GRACE = 60_000;

const bed = meterBed('tollgate-hold-', { inflightGraceMs: GRACE });

async function startedMeter(db: Db): Promise<Meter> {
  const meter = bed.meterOn(db);
  await meter.start();
  return meter;
}

/** The call's in-flight record, the call having started `agoMs` ago and its lease running `leaseMs` from now. */
function inflight(ev: UsageEvent, agoMs: number, leaseMs = 10 * GRACE): InflightRecord {
  const ts = new Date(Date.now() - agoMs).toISOString();
  return { kind: 'inflight', request_id: ev.request_id, ts, expires_at: new Date(Date.now() + leaseMs).toISOString(), fallback: { ...ev, ts, status: 0, partial: true, flags: ['fallback'] } };
}

/** Every statement that inserted in-flight rows, from knex's query events. */
function inflightInserts(db: Db): string[] {
  const seen: string[] = [];
  db.on('query', (q: { sql: string }) => {
    if (/insert into inflight_calls/i.test(q.sql)) seen.push(q.sql);
  });
  return seen;
}

const rowIds = async () => (await bed.t.db('inflight_calls').orderBy('request_id').pluck('request_id')) as string[];

describe('an in-flight record', () => {
  it('of a call that ends within the grace is never written to Postgres, though it stays in the journal meanwhile', async () => {
    const meter = await startedMeter(bed.t.db);
    const inserts = inflightInserts(bed.t.db);
    const call = usageEvent(1, {}, 'short');
    meter.record(inflight(call, 0));
    await meter.flush();
    expect(await rowIds()).toEqual([]);
    expect(meter.stats().pending).toBe(1);
    await meter.flush();
    expect(meter.stats().pending).toBe(1);
    meter.record(call);
    await meter.flush();
    expect(meter.stats().pending).toBe(0);
    expect(await bed.t.db('usage_events').pluck('request_id')).toEqual([call.request_id]);
    expect(await rowIds()).toEqual([]);
    expect(inserts).toEqual([]);
  });

  it('is written once its call has run for the grace, or when its lease ends sooner than that', async () => {
    const meter = await startedMeter(bed.t.db);
    const [young, old, shortLease] = [usageEvent(1, {}, 'a-young'), usageEvent(2, {}, 'b-old'), usageEvent(3, {}, 'c-lease')];
    meter.record(inflight(young, 0));
    meter.record(inflight(old, GRACE + 1));
    meter.record(inflight(shortLease, 0, GRACE / 2));
    await meter.flush();
    expect(await rowIds()).toEqual([old.request_id, shortLease.request_id]);
    meter.record(young);
    await meter.flush();
    expect(await rowIds()).toEqual([old.request_id, shortLease.request_id]);
  });

  it('held when the process dies is written by the next start, which never holds a replayed record', async () => {
    const crashed = createMeter({ db: bed.t.db, journalDir: bed.dir, flushIntervalMs: NEVER, batchSize: 1000, log: silentLog, inflightGraceMs: GRACE });
    await crashed.start();
    const call = usageEvent(4, {}, 'cut');
    crashed.record(inflight(call, 0));
    await crashed.flush();
    await crashed.flush();
    expect(await rowIds()).toEqual([]);
    // What a crashed process leaves behind: its journal and a lock naming a pid that no longer runs.
    fs.writeFileSync(path.join(bed.dir, 'journal.lock'), JSON.stringify({ pid: spawnSync(process.execPath, ['-e', '']).pid!, token: 'crashed' }));
    await startedMeter(bed.t.db);
    expect(await rowIds()).toEqual([call.request_id]);
  });

  it('held when the meter closes is written by its final flush', async () => {
    const meter = await startedMeter(bed.t.db);
    const call = usageEvent(5, {}, 'closing');
    meter.record(inflight(call, 0));
    await meter.flush();
    expect(await rowIds()).toEqual([]);
    await meter.close();
    expect(await rowIds()).toEqual([call.request_id]);
  });
});
