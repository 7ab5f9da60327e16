import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeBatch } from '../../src/db/ledger.js';
import { sweepOrphanedCalls } from '../../src/metering/orphans.js';
import type { InflightRecord, UsageEvent } from '../../src/metering/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

let t: TestDb;
beforeEach(async () => {
  t = await createTestDb();
});
afterEach(async () => t?.drop());

function inflight(ev: UsageEvent, expiresInMs: number): InflightRecord {
  const fallback: UsageEvent = { ...ev, status: 0, partial: true, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, cost: '0.000100000000' };
  return { kind: 'inflight', request_id: ev.request_id, ts: ev.ts, expires_at: new Date(Date.now() + expiresInMs).toISOString(), fallback };
}

const inflightCount = async () => Number((await t.db('inflight_calls').count<{ n: string }[]>('* as n'))[0]!.n);

describe('calls in flight', () => {
  it('are cleared when their usage is written, in the same batch or a later one', async () => {
    const [a, b] = [usageEvent(1, {}, 'if'), usageEvent(2, {}, 'if')];
    await writeBatch(t.db, [inflight(a, 60_000), a, inflight(b, 60_000)]);
    expect(await t.db('inflight_calls').pluck('request_id')).toEqual([b.request_id]);
    await writeBatch(t.db, [b]);
    expect(await inflightCount()).toBe(0);
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
    expect(Number((await t.db('usage_events').count<{ n: string }[]>('* as n'))[0]!.n)).toBe(2);
  });

  it('are metered from their fallback once their lease runs out, exactly once', async () => {
    const orphan = usageEvent(3, {}, 'if');
    const live = usageEvent(4, {}, 'if');
    await writeBatch(t.db, [inflight(orphan, -1000), inflight(live, 60_000)]);
    expect(await sweepOrphanedCalls(t.db)).toBe(1);
    const row = await t.db('usage_events').where('request_id', orphan.request_id).first();
    expect(row).toMatchObject({ status: 0, partial: true, output_tokens: 0 });
    expect(await t.db('inflight_calls').pluck('request_id')).toEqual([live.request_id]);
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
    // The orphan reporting late changes nothing: the ledger keeps one row per call.
    await writeBatch(t.db, [orphan]);
    expect(Number((await t.db('usage_events').where('request_id', orphan.request_id).count<{ n: string }[]>('* as n'))[0]!.n)).toBe(1);
  });

  it('are not recorded again when a journal replays calls already in the ledger', async () => {
    const done = usageEvent(5, {}, 'if');
    await writeBatch(t.db, [done]);
    await writeBatch(t.db, [inflight(done, -1000), done]);
    expect(await inflightCount()).toBe(0);
    expect(await sweepOrphanedCalls(t.db)).toBe(0);
  });
});
