import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, PROMO, type Gateway } from '../helpers/gateway.js';

/**
 * Issue 16, item 7: "Long streams are metered by the dead-gateway fallback". A stream that outlived its lease
 * (TOLLGATE_RESERVATION_TTL_MS) had its fallback row (status 0, output 0) written by the in-flight sweep while it
 * was still live, and its real usage was then dropped by ON CONFLICT DO NOTHING. Here the lease is 2.5 s (renewed
 * every 625 ms) and each stream about 5 s: a 1.5 s lease let a CI run on PGlite, with another test file on the
 * second core, miss enough renewals in a row for the sweep to meter a live call by its fallback.
 */

const TTL_MS = 2500;
const PROMPT = 'write the long version of the spring promotion brief';

type Watch = { fallbackSeen: boolean; reservationSeen: boolean; reservationLost: boolean };

describe('streams that outlive their lease', () => {
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    // Budget leases off: each call holds a reservation of its own, whose renewal is what is tested here (a call
    // admitted against a budget lease holds room the lease's settlement renews, tested with the leases).
    gw = await startGateway({ TOLLGATE_RESERVATION_TTL_MS: TTL_MS, TOLLGATE_BUDGET_LEASE_MS: 0 });
    key = await gw.key('promo-planner');
  });
  afterAll(async () => gw?.close());

  /** Streams a slow answer while watching the ledger and the call's reservation; returns its request id. */
  async function slowStream(session: string): Promise<{ requestId: string; watch: Watch; deltas: number }> {
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 300, path: '/v1/messages' });
    const { data, response } = await gw.anthropic(key, { ...PROMO, session_id: session }).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: PROMPT }] })
      .withResponse();
    const requestId = response.headers.get('x-tollgate-request-id')!;
    const db = gw.app.tollgate.db;
    const watch: Watch = { fallbackSeen: false, reservationSeen: false, reservationLost: false };
    let streaming = true;
    // The call's real usage may reach the ledger, and take its reservation back, while the client still reads:
    // a stream is metered at its last event (Anthropic's message_stop), which comes before the stream's end. Only
    // a fallback row (status 0) is the dead-gateway fallback, and a reservation gone with no real row is lost.
    const realRow = async () => (await db('usage_events').where({ request_id: requestId }).whereNot({ status: 0 }).first('request_id')) !== undefined;
    const watching = (async () => {
      while (streaming) {
        const [row, reservation] = await Promise.all([
          db('usage_events').where({ request_id: requestId }).first('status'),
          db('budget_reservations').where({ request_id: requestId }).first('request_id'),
        ]);
        if (streaming && row && Number(row.status) === 0) watch.fallbackSeen = true;
        if (reservation) watch.reservationSeen = true;
        else if (streaming && watch.reservationSeen && !(await realRow())) watch.reservationLost = true;
        await sleep(50);
      }
    })();
    let deltas = 0;
    for await (const ev of data) if (ev.type === 'content_block_delta') deltas++;
    streaming = false;
    await watching;
    return { requestId, watch, deltas };
  }

  async function ledgerRow(requestId: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      await gw.flush();
      const row = (await gw.app.tollgate.db('usage_events').where({ request_id: requestId }).first()) as Record<string, unknown> | undefined;
      if (row && row.status !== 0) return row;
      await sleep(25);
    }
    throw new Error(`no real ledger row for ${requestId}`);
  }

  /** Budget counters of the use case and its BU, against the ledger (spend and calls). */
  async function expectBudgetsEqualLedger(): Promise<void> {
    const db = gw.app.tollgate.db;
    await gw.flush();
    const ledger = (await db('usage_events').where({ use_case_id: PROMO.use_case }).first(db.raw('count(*)::int as calls, coalesce(sum(cost), 0)::numeric(38, 12)::text as cost'))) as { calls: number; cost: string };
    const budget = (await db('budget_counters as c').join('budgets as b', 'b.id', 'c.budget_id').where({ 'b.scope': 'use_case', 'b.scope_id': PROMO.use_case })
      .first(db.raw('sum(c.calls)::int as calls, sum(c.spent)::numeric(38, 12)::text as cost, sum(c.reserved)::numeric(38, 12)::text as reserved'))) as { calls: number; cost: string; reserved: string };
    const hourly = (await db('usage_hourly').where({ use_case_id: PROMO.use_case }).first(db.raw('sum(calls)::int as calls, sum(cost)::numeric(38, 12)::text as cost'))) as { calls: number; cost: string };
    expect(budget).toEqual({ ...ledger, reserved: '0.000000000000' });
    expect(hourly).toEqual(ledger);
  }

  it('long streams are metered by the dead-gateway fallback: a live call renews its lease, so neither its fallback nor the loss of its reservation happens', async () => {
    const { requestId, watch, deltas } = await slowStream('sess-long-renewed');
    expect(deltas).toBe(16);
    expect(watch).toEqual({ fallbackSeen: false, reservationSeen: true, reservationLost: false });
    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({ status: 200, partial: false, flags: null, output_tokens: 16 });
    await expectBudgetsEqualLedger();
  });

  it('a fallback written anyway (the lease could not be renewed) is replaced by the real usage, and budgets equal the ledger', async () => {
    await gw.app.tollgate.liveCalls.stop();
    try {
      const { requestId, watch } = await slowStream('sess-long-unrenewed');
      expect(watch.fallbackSeen).toBe(true);
      const row = await ledgerRow(requestId);
      expect(row).toMatchObject({ status: 200, partial: false, flags: ['replaced_fallback'], output_tokens: 16 });
      expect(Number((await gw.app.tollgate.db('usage_events').where({ request_id: requestId }).count<{ n: string }[]>('* as n'))[0]!.n)).toBe(1);
      await expectBudgetsEqualLedger();
    } finally {
      gw.app.tollgate.liveCalls.start();
    }
  });
});
