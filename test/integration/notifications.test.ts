import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordTierEvents, type TierCrossing } from '../../src/budgets/events.js';
import { createNotifier, type NotifierOptions, type RunResult } from '../../src/budgets/notifier.js';
import type { NotificationPayload, Tier } from '../../src/budgets/payload.js';
import { seedDemo } from '../../src/catalog/seed.js';
import { setBudgetAudited } from '../../src/db/budget-changes.js';
import { createDb, type Db } from '../../src/db/knex.js';
import { claimDueNotifications, listNotifications, listTierEvents, markDelivered } from '../../src/db/notifications.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';

const PERIOD = '2025-03-01T00:00:00.000Z';
const RATIO: Record<Tier, string> = { notice: '0.5', warning: '0.82', soft_cap: '1', hard_cap: '1.1' };
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const FAST = { backoff: { baseMs: 10, maxMs: 40 }, timeoutMs: 2000 };

let t: TestDb;
let db: Db;
let receiver: WebhookReceiver;
let promo: number;

async function budget(useCase: string, limit = '2500'): Promise<number> {
  const r = await setBudgetAudited(db, { scope: 'use_case', scopeId: useCase, limit, unit: 'usd', period: 'month', actor: 'test' });
  return r.after.id;
}

function crossing(budgetId: number, tier: Tier, over: Partial<TierCrossing> = {}): TierCrossing {
  return {
    budget_id: budgetId, period_start: PERIOD, key: '', tier, ratio: RATIO[tier],
    spent: (Number(RATIO[tier]) * 2500).toFixed(2), limit: '2500', unit: 'usd',
    request_id: `req-${budgetId}-${tier}`, ts: '2025-03-18T10:11:12.000Z', ...over,
  };
}

const record = (crossings: TierCrossing[]) => db.transaction((trx) => recordTierEvents(trx, crossings));
const notifier = (opts: Partial<NotifierOptions> = {}) => createNotifier({ db, log: silent, ...FAST, ...opts });

/** Runs rounds until nothing is pending (or `rounds` is spent), sleeping between them for backoffs to lapse. */
async function drain(run: () => Promise<RunResult>, rounds = 200): Promise<RunResult> {
  const total = { delivered: 0, failed: 0, retried: 0 };
  for (let i = 0; i < rounds; i++) {
    const r = await run();
    total.delivered += r.delivered;
    total.failed += r.failed;
    total.retried += r.retried;
    if ((await listNotifications(db, { status: 'pending' })).length === 0) return total;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  throw new Error(`notifications still pending after ${rounds} rounds`);
}

// One database for the file (migrating one per test costs seconds on PGlite); each test starts with no events.
beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  await seedDemo(db, { budgets: false });
  promo = await budget('trade-promo-automation');
});

afterAll(async () => {
  await t.drop();
});

beforeEach(async () => {
  await db.raw('truncate notification_outbox, budget_tier_events');
  receiver = await startWebhookReceiver();
  await db('use_cases').where('id', 'trade-promo-automation').update({ owner_webhook_url: `${receiver.url}/promo-owner` });
  await db('business_units').where('id', 'marketing').update({ owner_webhook_url: `${receiver.url}/mkt-owner`, finance_webhook_url: `${receiver.url}/mkt-finance` });
});

afterEach(async () => {
  await receiver.close();
});

describe(`tier events (${TEST_DB_KIND})`, () => {
  it('records a crossing once, with one outbox row per recipient, however often it is reported', async () => {
    expect(await record([crossing(promo, 'warning')])).toHaveLength(1);
    expect(await record([crossing(promo, 'warning', { request_id: 'a-later-call', ratio: '0.9' })])).toEqual([]);
    const events = await listTierEvents(db, { budgetId: promo });
    expect(events.map((e) => [e.tier, e.request_id])).toEqual([['warning', `req-${promo}-warning`]]);
    const rows = await listNotifications(db, { budgetId: promo });
    expect(rows.map((r) => [r.recipient, r.status, r.target_url]).sort()).toEqual([
      ['finance', 'pending', `${receiver.url}/mkt-finance`],
      ['owner', 'pending', `${receiver.url}/promo-owner`],
    ]);
    expect(rows.find((r) => r.recipient === 'owner')!.email).toBe('trade-promo@example.com');
    expect(rows.find((r) => r.recipient === 'finance')!.email).toBe('marketing-finance@example.com');
  });

  it('records every tier of a jump, each with its own recipients', async () => {
    const inserted = await record([crossing(promo, 'warning'), crossing(promo, 'notice'), crossing(promo, 'warning')]);
    expect(inserted.map((e) => e.tier).sort()).toEqual(['notice', 'warning']);
    const rows = await listNotifications(db, { budgetId: promo });
    expect(rows.map((r) => `${r.tier}:${r.recipient}`).sort()).toEqual(['notice:owner', 'warning:finance', 'warning:owner']);
  });

  it('skips a crossing of a budget that no longer exists instead of failing the batch', async () => {
    const inserted = await record([crossing(987654, 'notice'), crossing(promo, 'notice')]);
    expect(inserted.map((e) => e.budget_id)).toEqual([promo]);
  });

  it('keeps periods and session keys apart', async () => {
    await record([crossing(promo, 'notice'), crossing(promo, 'notice', { period_start: '2025-04-01T00:00:00Z' })]);
    await record([crossing(promo, 'notice', { key: 'sess-1' }), crossing(promo, 'notice', { key: 'sess-2' })]);
    expect(await listTierEvents(db, { budgetId: promo })).toHaveLength(4);
  });

  it('records one event when two transactions race on the same crossing', async () => {
    if (TEST_DB_KIND === 'postgres') {
      // Interleaved for real: the second insert waits on the first's uncommitted row, then does nothing.
      const a = await db.transaction();
      const b = await db.transaction();
      expect(await recordTierEvents(a, [crossing(promo, 'hard_cap')])).toHaveLength(1);
      const second = recordTierEvents(b, [crossing(promo, 'hard_cap', { request_id: 'other-replica' })]);
      await a.commit();
      expect(await second).toEqual([]);
      await b.commit();
    }
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      record([crossing(promo, 'notice', { request_id: `r${i}` }), crossing(promo, 'warning', { request_id: `r${i}` }), crossing(promo, 'hard_cap')])));
    expect(many.flat().map((e) => e.tier).sort()).toEqual(TEST_DB_KIND === 'postgres' ? ['notice', 'warning'] : ['hard_cap', 'notice', 'warning']);
    const rows = await listNotifications(db, { budgetId: promo });
    expect(rows.map((r) => `${r.tier}:${r.recipient}`).sort()).toEqual(['hard_cap:finance', 'hard_cap:owner', 'notice:owner', 'warning:finance', 'warning:owner']);
  });

  it('stores a notification with no webhook as no_target, which the worker leaves alone', async () => {
    const forecast = await budget('demand-forecasting', '3000');
    await record([crossing(forecast, 'warning')]);
    const before = await listNotifications(db, { budgetId: forecast });
    expect(before.map((r) => [r.recipient, r.status, r.target_url, r.email]).sort()).toEqual([
      ['finance', 'no_target', null, 'supply-finance@example.com'],
      ['owner', 'no_target', null, 'demand-planning@example.com'],
    ]);
    expect(await notifier().runOnce()).toEqual({ delivered: 0, failed: 0, retried: 0 });
    expect(await listNotifications(db, { budgetId: forecast })).toEqual(before);
    expect(receiver.received).toEqual([]);
  });

  it("sends a BU budget's notifications to the BU's owner, and an agent budget's to its BU's owner", async () => {
    const bu = (await setBudgetAudited(db, { scope: 'bu', scopeId: 'marketing', limit: '9000', unit: 'usd', period: 'quarter', actor: 't' })).after.id;
    const agent = (await setBudgetAudited(db, { scope: 'agent', scopeId: 'promo-planner', limit: '100', unit: 'usd', period: 'day', actor: 't' })).after.id;
    await record([crossing(bu, 'notice'), crossing(agent, 'notice')]);
    const owners = await listNotifications(db, { recipient: 'owner' });
    expect(owners.map((r) => [r.budget_id, r.target_url, r.payload.tollgate.budget.scope]).sort()).toEqual([
      [bu, `${receiver.url}/mkt-owner`, 'bu'],
      [agent, `${receiver.url}/mkt-owner`, 'agent'],
    ].sort());
  });
});

describe(`outbox worker (${TEST_DB_KIND})`, () => {
  it('delivers each notification to its target with the Slack-compatible payload', async () => {
    const [event] = await record([crossing(promo, 'warning', { spent: '2050.12', ratio: '0.820048' })]);
    expect(await notifier().runOnce()).toEqual({ delivered: 2, failed: 0, retried: 0 });

    const [finance] = receiver.on('/mkt-finance');
    expect(receiver.received).toHaveLength(2);
    const body = finance!.body as NotificationPayload;
    expect(body.text).toBe(':warning: Budget warning — use case trade-promo-automation (marketing) has used 82% of its 2,500 USD monthly budget (2,050.12 USD). Owner and finance notified.');
    expect(body.tollgate).toMatchObject({
      event_id: event!.id, tier: 'warning', recipient: 'finance', request_id: `req-${promo}-warning`, at: '2025-03-18T10:11:12.000Z',
      budget: { id: promo, scope: 'use_case', scope_id: 'trade-promo-automation', unit: 'usd', period: 'month', period_start: PERIOD },
      bu: { id: 'marketing', name: 'Marketing' }, use_case: { id: 'trade-promo-automation' },
    });
    expect(Number(body.tollgate.spent)).toBe(2050.12);
    expect((receiver.on('/promo-owner')[0]!.body as NotificationPayload).tollgate.recipient).toBe('owner');
    expect(finance!.headers['content-type']).toBe('application/json');
    expect(finance!.headers['idempotency-key']).toMatch(/^tollgate-notification-\d+$/);

    const rows = await listNotifications(db, { eventId: event!.id });
    for (const r of rows) expect(r).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200, last_error: null });
    for (const r of rows) expect(r.delivered_at).toBeInstanceOf(Date);
    expect(await notifier().runOnce()).toEqual({ delivered: 0, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(2);
  });

  it('retries a receiver that fails, with backoff, until it answers 2xx', async () => {
    receiver.reply('/promo-owner', 500, 500, 200);
    await record([crossing(promo, 'notice')]);
    const w = notifier();
    const first = await w.runOnce();
    expect(first).toEqual({ delivered: 0, failed: 0, retried: 1 });
    const [pending] = await listNotifications(db, { recipient: 'owner' });
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, last_status: 500 });
    expect(pending!.last_error).toContain('HTTP 500');
    expect(pending!.next_attempt_at.getTime()).toBeGreaterThan(pending!.created_at.getTime());

    expect(await drain(() => w.runOnce())).toMatchObject({ delivered: 1, retried: 1, failed: 0 });
    const [row] = await listNotifications(db, { recipient: 'owner' });
    expect(row).toMatchObject({ status: 'delivered', attempts: 3, last_status: 200 });
    expect(receiver.on('/promo-owner')).toHaveLength(3);
  });

  it('gives up after maxAttempts and marks the notification failed', async () => {
    receiver.reply('/promo-owner', 503);
    await record([crossing(promo, 'notice')]);
    const w = notifier({ maxAttempts: 3 });
    expect(await drain(() => w.runOnce())).toEqual({ delivered: 0, failed: 1, retried: 2 });
    const [row] = await listNotifications(db, { recipient: 'owner' });
    expect(row).toMatchObject({ status: 'failed', attempts: 3, last_status: 503, delivered_at: null });
    expect(row!.last_error).toBe('HTTP 503: receiver says no');
    expect(await w.runOnce()).toEqual({ delivered: 0, failed: 0, retried: 0 });
    expect(receiver.on('/promo-owner')).toHaveLength(3);
  });

  it('times out a receiver that never answers and retries it', async () => {
    receiver.reply('/promo-owner', 'hang', 204);
    await record([crossing(promo, 'notice')]);
    const w = notifier({ timeoutMs: 200 });
    expect(await w.runOnce()).toEqual({ delivered: 0, failed: 0, retried: 1 });
    const [pending] = await listNotifications(db, { recipient: 'owner' });
    expect(pending).toMatchObject({ status: 'pending', last_status: null, last_error: 'timed out' });
    await drain(() => w.runOnce());
    expect((await listNotifications(db, { recipient: 'owner' }))[0]).toMatchObject({ status: 'delivered', attempts: 2, last_status: 204 });
  });

  it('delivers each row exactly once when several workers run at the same time', async () => {
    const budgets = [promo, await budget('digital-marketing', '1500'), await budget('experience-management', '800')];
    await db('use_cases').whereIn('id', ['digital-marketing', 'experience-management']).update({ owner_webhook_url: `${receiver.url}/other-owner` });
    await record(budgets.flatMap((b) => (['notice', 'warning', 'soft_cap', 'hard_cap'] as const).map((tier) => crossing(b, tier))));
    const total = (await listNotifications(db, { status: 'pending' })).length;
    expect(total).toBe(3 * 7);
    receiver.delayMs = 20;

    // On Postgres the second worker is another replica: its own pool on the same database.
    const otherDb = t.url ? createDb({ kind: 'postgres', url: t.url }) : db;
    try {
      const workers = [db, db, otherDb, otherDb].map((d) => createNotifier({ db: d, log: silent, ...FAST, batchSize: 2 }));
      const results = await Promise.all(workers.map((w) => drain(() => w.runOnce())));
      expect(results.reduce((n, r) => n + r.delivered, 0)).toBe(total);
      expect(results.filter((r) => r.delivered > 0).length).toBeGreaterThan(1);
    } finally {
      if (otherDb !== db) await otherDb.destroy();
    }
    const keys = receiver.received.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(total);
    expect(new Set(keys).size).toBe(total);
    const rows = await listNotifications(db, { status: 'delivered' });
    expect(rows).toHaveLength(total);
    for (const r of rows) expect(r.attempts).toBe(1);
  });

  it('does not claim a row another worker holds a lease on', async () => {
    await record([crossing(promo, 'notice')]);
    const [leased] = await claimDueNotifications(db, { limit: 10, leaseMs: 60_000 });
    expect(leased).toMatchObject({ recipient: 'owner', attempts: 1 });
    expect(await notifier().runOnce()).toEqual({ delivered: 0, failed: 0, retried: 0 });
    expect(receiver.received).toEqual([]);
    // The holder records its outcome, guarded by its attempt number.
    expect(await markDelivered(db, leased!, 200)).toBe(true);
    expect(await markDelivered(db, { id: leased!.id, attempts: 0 }, 200)).toBe(false);
  });

  it.runIf(TEST_DB_KIND === 'postgres')('skips rows locked by a claim in flight instead of waiting for it', async () => {
    await record([crossing(promo, 'warning')]);
    const rows = await listNotifications(db, { status: 'pending' });
    const held = await db.transaction();
    try {
      await held('notification_outbox').where('id', rows[0]!.id).forUpdate().first('id');
      expect(await notifier().runOnce()).toEqual({ delivered: 1, failed: 0, retried: 0 });
    } finally {
      await held.rollback();
    }
    expect(await notifier().runOnce()).toEqual({ delivered: 1, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(2);
  });

  it('delivers on its own timer once started, and stops', async () => {
    const w = notifier({ intervalMs: 10 });
    w.start();
    try {
      await record([crossing(promo, 'notice')]);
      for (let i = 0; i < 200 && receiver.received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await w.stop();
    }
    expect(receiver.on('/promo-owner')).toHaveLength(1);
    await record([crossing(promo, 'warning')]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toHaveLength(1);
    expect(await listNotifications(db, { status: 'pending' })).toHaveLength(2);
  });
});
