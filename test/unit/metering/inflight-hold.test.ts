import { describe, expect, it } from 'vitest';
import { heldInflight } from '../../../src/metering/inflight-hold.js';
import type { InflightRecord, UsageEvent } from '../../../src/metering/types.js';
import { decisionRecord, usageEvent } from '../../integration/fixtures/events.js';

const NOW = Date.parse('2025-03-10T12:00:00.000Z');
const GRACE = 5000;

function inflight(ev: UsageEvent, startedAgoMs: number, leaseLeftMs = 600_000): InflightRecord {
  return {
    kind: 'inflight', request_id: ev.request_id, ts: new Date(NOW - startedAgoMs).toISOString(),
    expires_at: new Date(NOW + leaseLeftMs).toISOString(), fallback: { ...ev, status: 0, partial: true, flags: ['fallback'] },
  };
}

describe('heldInflight', () => {
  it('holds the in-flight records of calls younger than the grace whose usage is not in the batch', () => {
    const [young, ended, old, lease] = [usageEvent(1), usageEvent(2), usageEvent(3), usageEvent(4)];
    const held = [inflight(young, GRACE - 1)];
    const batch = [...held, inflight(ended, 0), ended, inflight(old, GRACE), inflight(lease, 0, GRACE), decisionRecord(5)];
    expect([...heldInflight(batch, NOW, GRACE)]).toEqual(held);
  });

  it('holds nothing with no grace', () => {
    expect(heldInflight([inflight(usageEvent(1), 0)], NOW, 0).size).toBe(0);
  });
});
