import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, WRITER, type Gateway } from '../helpers/gateway.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';

/**
 * Issue 16, item 2: with the writer stuck, "/readyz stays 200, budgets stop advancing while calls are still
 * served". A meter that cannot flush while the database answers now fails readiness, with its own check.
 */

type Ready = { status: number; body: { status: string; checks: Record<string, string> } };

async function readyz(gw: Gateway): Promise<Ready> {
  const res = await fetch(`${gw.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready['body'] };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('readiness of the meter', () => {
  let gw: Gateway;
  let key: string;
  let scraper: string;

  beforeAll(async () => {
    gw = await startGateway({ TOLLGATE_READY_METER_LAG_MS: 2000 });
    key = await gw.key('campaign-writer');
    // /metrics takes a token of the metrics role; one the process has seen keeps working while tables are away.
    const t = generateApiToken();
    await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'metrics' });
    scraper = t.token;
    expect((await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${scraper}` } })).status).toBe(200);
  });
  afterAll(async () => gw?.close());

  it('/readyz stays 200 while the meter cannot flush: it answers 503 with a meter check while the database answers, and 200 again once it flushes', async () => {
    expect(await readyz(gw)).toMatchObject({ status: 200, body: { checks: { meter: 'ok' } } });
    const db = gw.app.tollgate.db;
    // Every flush now fails (undefined table), though `select 1` still answers: the writer is stuck, not Postgres.
    await db.raw('alter table usage_events rename to usage_events_away');
    try {
      await gw.openai(key, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] });
      await until('readiness to fail', async () => (await readyz(gw)).status === 503);
      const { body } = await readyz(gw);
      expect(body.status).toBe('not_ready');
      expect(body.checks).toMatchObject({ policy: 'ok', database: 'ok', meter: expect.stringMatching(/^cannot flush: \d+ records pending, the oldest \d+ s old, \d+ failed attempts in a row$/) });
      const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${scraper}` } })).text();
      expect(metrics).toMatch(/^tollgate_meter_consecutive_failures [1-9]\d*$/m);
      expect(metrics).toMatch(/^tollgate_meter_oldest_pending_seconds \d/m);
    } finally {
      await db.raw('alter table usage_events_away rename to usage_events');
    }
    await until('readiness to come back', async () => (await readyz(gw)).status === 200);
    expect(gw.app.tollgate.meter.stats()).toMatchObject({ pending: 0, consecutiveFailures: 0, oldestPendingAt: null });
  });
});
