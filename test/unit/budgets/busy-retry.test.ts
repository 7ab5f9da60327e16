import { describe, expect, it } from 'vitest';
import { BudgetGate } from '../../../src/budgets/gate.js';
import type { Db } from '../../../src/db/knex.js';
import type { UsageEvent } from '../../../src/metering/types.js';

const LOG = { info() {}, warn() {}, error() {}, debug() {} } as unknown as ConstructorParameters<typeof BudgetGate>[1];
// No statement is sent here: the running average of call lengths is kept in memory.
const gate = (flushIntervalMs: number) => new BudgetGate({} as Db, LOG, { reservationTtlMs: 60_000, leaseSettleMs: 0, leaseTtlMs: 30_000, hardCap: () => 1.1, flushIntervalMs });
const metered = (latency_ms: number) => ({ request_id: `r-${latency_ms}`, latency_ms, cost: '0.000001000000', input_tokens: 1, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 1 }) as UsageEvent;

describe('when a busy call is told to come back', () => {
  it('is a flush interval before any call was metered', () => {
    expect(gate(250).busyRetryAfterMs()).toBe(250);
  });

  it('follows the recent length of calls, plus a flush, moving a tenth of the way per call', () => {
    const g = gate(250);
    g.metered(metered(400));
    expect(g.busyRetryAfterMs()).toBe(650);
    for (let i = 0; i < 60; i++) g.metered(metered(3000));
    expect(g.busyRetryAfterMs()).toBeGreaterThan(3200);
    expect(g.busyRetryAfterMs()).toBeLessThanOrEqual(3250);
    // One ten-minute stream counts as 30 s, a tenth of it: it does not set the wait alone.
    g.metered(metered(600_000));
    expect(g.busyRetryAfterMs()).toBeGreaterThan(5900);
    expect(g.busyRetryAfterMs()).toBeLessThan(6000);
    for (let i = 0; i < 30; i++) g.metered(metered(3000));
    expect(g.busyRetryAfterMs()).toBeLessThan(3500);
    // Slow calls all along: at most 30 s.
    for (let i = 0; i < 200; i++) g.metered(metered(120_000));
    expect(g.busyRetryAfterMs()).toBe(30_000);
  });
});
