import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { sumLedger, usageByRequestId } from '../../src/db/ledger.js';
import { createMetrics, registerMeterGauges } from '../../src/ops/metrics.js';
import type { InflightRecord, JournalRecord, UsageEvent } from '../../src/metering/types.js';
import { meterBed } from '../helpers/meter-bed.js';
import { decisionRecord, usageEvent } from './fixtures/events.js';

/**
 * Issue 16, items 2 and 3: "One unauthenticated request stops all metering, across restarts" and "A NUL byte
 * makes a served call invisible". An 8 KB random tag made Postgres refuse the row (SQLSTATE 54000, index row
 * too large) and the writer retried that batch forever; a NUL byte (22021, or 22P05 in jsonb) did the same kind
 * of harm. The writer sets any record Postgres refuses as data aside in metering_dead_letters, writes its
 * sanitized copy (so a served call still ends in the ledger, flagged), and lets the rest flow.
 */

/** Random letters and digits: nothing a b-tree page can compress below its limit. */
function randomText(bytes: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: bytes }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
}

type DeadRow = { kind: string; request_id: string; sqlstate: string; error: string; record: string; sanitized: boolean };

describe('records Postgres refuses', () => {
  const bed = meterBed('tollgate-dead-');
  const meterOn = (db: Db, batchSize = 1000) => bed.meterOn(db, { batchSize });
  const dead = async () => (await bed.t.db('metering_dead_letters').orderBy('id')) as DeadRow[];

  it('one unauthenticated request stops all metering: an 8 KB session id (54000) is set aside, its call metered sanitized, the rest flows', async () => {
    const meter = meterOn(bed.t.db);
    const huge = randomText(8192);
    const good = Array.from({ length: 30 }, (_, i) => usageEvent(i, {}, 'ok'));
    const refused = usageEvent(0, { session_id: huge }, 'huge');
    [...good.slice(0, 15), refused, ...good.slice(15)].forEach((r) => meter.record(r));
    await meter.flush();

    expect(meter.stats()).toMatchObject({ pending: 0, pendingSegments: 0, consecutiveFailures: 0, rejected: 1, sanitized: 1 });
    // What an alert watches: the gauges /metrics exposes.
    const metrics = createMetrics();
    registerMeterGauges(metrics, () => meter.stats());
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^tollgate_meter_rejected_events 1$/m);
    expect(text).toMatch(/^tollgate_meter_sanitized_events 1$/m);
    expect((await sumLedger(bed.t.db)).calls).toBe(31);
    const row = await usageByRequestId(bed.t.db, refused.request_id);
    expect(row).toMatchObject({ session_id: huge.slice(0, 200), flags: ['sanitized'], input_tokens: refused.input_tokens, cost: refused.cost });
    const [letter] = await dead();
    expect(letter).toMatchObject({ kind: 'usage', request_id: refused.request_id, sqlstate: '54000', sanitized: true });
    expect(letter!.error).toMatch(/^index row /); // Postgres' own message, not the statement
    expect(JSON.parse(letter!.record)).toEqual(refused);
    // Budgets and rollups moved with the sanitized row, as with any other.
    const hourly = await bed.t.db('usage_hourly').sum<{ calls: string }[]>('calls as calls');
    expect(Number(hourly[0]!.calls)).toBe(31);
  });

  it('a NUL byte makes a served call invisible: the usage event, its in-flight record and a denial are written sanitized', async () => {
    const meter = meterOn(bed.t.db);
    const usage = usageEvent(1, { parent_request_id: 'a\u0000b', session_id: 's-\u0000-1' }, 'nul');
    const fallback: UsageEvent = { ...usageEvent(2, { agent_id: 'agent\u0000x' }, 'nul'), status: 0, partial: true, flags: ['fallback'] };
    const inflight: InflightRecord = { kind: 'inflight', request_id: fallback.request_id, ts: fallback.ts, expires_at: new Date(Date.now() + 60_000).toISOString(), fallback };
    const denial = decisionRecord(3, { bu_id: `bu\u0000${randomText(8192)}`, agent_id: null }, 'nul-denied');
    const records: JournalRecord[] = [usage, inflight, denial, usageEvent(4, {}, 'fine')];
    records.forEach((r) => meter.record(r));
    await meter.flush();

    expect(await usageByRequestId(bed.t.db, usage.request_id)).toMatchObject({ parent_request_id: 'ab', session_id: 's--1', flags: ['sanitized'] });
    const inflightRow = (await bed.t.db('inflight_calls').where({ request_id: inflight.request_id }).first()) as { fallback: UsageEvent | string };
    const storedFallback = typeof inflightRow.fallback === 'string' ? (JSON.parse(inflightRow.fallback) as UsageEvent) : inflightRow.fallback;
    expect(storedFallback).toMatchObject({ agent_id: 'agentx', flags: ['fallback', 'sanitized'] });
    const decision = (await bed.t.db('decision_log').where({ request_id: denial.request_id }).first()) as { bu_id: string };
    expect(decision.bu_id).toMatch(/^bu[A-Za-z0-9]{198}$/);
    expect(await usageByRequestId(bed.t.db, 'fine-4')).toMatchObject({ flags: null });
    const letters = await dead();
    expect(letters.map((l) => [l.kind, l.sqlstate.slice(0, 2), l.sanitized])).toEqual([['usage', '22', true], ['inflight', '22', true], ['decision', '22', true]]);
    // The original is kept as it was journaled: JSON text, where NUL is an escape.
    expect(letters[0]!.record).toContain('a\\u0000b');
  });

  it('sets a record aside once however often its segment is replayed', async () => {
    const refused = usageEvent(5, { session_id: randomText(8192) }, 'again');
    for (let run = 0; run < 2; run++) {
      const meter = meterOn(bed.t.db);
      meter.record(refused);
      await meter.flush();
      await meter.close();
    }
    expect(await dead()).toHaveLength(1);
    expect((await sumLedger(bed.t.db)).calls).toBe(1);
  });

  it('finds a refused record by halving its batch, not by writing every record alone', async () => {
    let transactions = 0;
    const counting = new Proxy(bed.t.db, {
      get(target, prop, receiver) {
        if (prop !== 'transaction') return Reflect.get(target, prop, receiver) as unknown;
        return (work: Parameters<Db['transaction']>[0]) => {
          transactions++;
          return target.transaction(work);
        };
      },
    });
    const meter = meterOn(counting, 2000);
    const records = Array.from({ length: 1024 }, (_, i) => usageEvent(i, i === 700 ? { session_id: randomText(8192) } : {}, 'halve'));
    records.forEach((r) => meter.record(r));
    await meter.flush();
    expect((await sumLedger(bed.t.db)).calls).toBe(1024);
    // 1 + 2 per halving (10 of them) + the sanitized copy, where one by one would take 1,025.
    expect(transactions).toBeLessThanOrEqual(25);
  });

  it('keeps retrying what is not the data\'s fault, and sets nothing aside', async () => {
    const meter = meterOn(bed.t.db);
    meter.record(usageEvent(6, {}, 'outage'));
    await bed.t.db.raw('alter table usage_events rename to usage_events_away');
    try {
      await expect(meter.flush()).rejects.toMatchObject({ code: '42P01' });
      expect(meter.stats()).toMatchObject({ rejected: 0, pending: 1, consecutiveFailures: 1 });
    } finally {
      await bed.t.db.raw('alter table usage_events_away rename to usage_events');
    }
    await meter.flush();
    expect(await dead()).toHaveLength(0);
    expect((await sumLedger(bed.t.db)).calls).toBe(1);
  });
});
