import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdjacency, type RunSummary, type StoredResult } from '../../src/adjacency/runner.js';
import { createNotifier } from '../../src/budgets/notifier.js';
import { seedDemo } from '../../src/catalog/seed.js';
import { alertsByIds, transitionAlert, transitionsOf } from '../../src/db/adjacency.js';
import { upsertCouncil } from '../../src/db/catalog.js';
import type { Db } from '../../src/db/knex.js';
import { listAlertDeliveries } from '../../src/db/notifications.js';
import { SHOCK, writeControlMonth, writeShockMonth } from '../helpers/adjacency-month.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { silentLog } from './fixtures/events.js';

/** The "Done when": the shock month raises exactly its one alert, with its evidence; the control none. */

let t: TestDb;
let db: Db;
let receiver: WebhookReceiver;
let first: RunSummary;

const PAIR: string[] = [SHOCK.follower.useCase, SHOCK.leader.useCase];

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  receiver = await startWebhookReceiver();
  await seedDemo(db);
  await db.transaction((trx) => upsertCouncil(trx, { name: 'Council', email: 'council@example.com', webhook_url: `${receiver.url}/council` }));
  await writeShockMonth(db, { period: '2026-06' });
  await writeControlMonth(db, { period: '2026-08' });
  first = (await runAdjacency(db, { period: '2026-06', triggeredBy: 'test' }))!;
});

afterAll(async () => {
  await receiver?.close();
  await t?.drop();
});

describe(`adjacency runs (${TEST_DB_KIND})`, () => {
  it('reads tool usage from the metering writer', async () => {
    const rows = (await db('tool_usage_daily').where({ tool: SHOCK.tool }).distinct('use_case_id').orderBy('use_case_id')) as { use_case_id: string }[];
    expect(rows.map((r) => r.use_case_id)).toEqual(PAIR);
  });

  it('raises exactly the shock alert, with the lead-lag, the shared tool, the coupling and both sides\' spend', async () => {
    expect(first.alerts).toMatchObject({ raised: 1, new: 1, known: 0 });
    const [alert] = await alertsByIds(db, first.alerts.ids);
    expect(alert).toMatchObject({
      key: `adjacency:2026-06:${PAIR.join('|')}`, period: '2026-06', status: 'open', pair: PAIR, bus: ['supply-chain', 'marketing'],
      signals: ['classCoupling', 'sharedTools', 'leadLag'], runs: 1, first_run_id: first.run.id, last_run_id: first.run.id,
    });
    expect(alert!.weight).toBeGreaterThanOrEqual(0.5);
    expect(alert!.evidence).toMatchObject({
      leadLag: { leader: SHOCK.leader.useCase, follower: SHOCK.follower.useCase, lagDays: SHOCK.lagDays, significant: true },
      sharedTools: { tools: [SHOCK.tool] },
      classCoupling: { classes: ['demand-planning', 'demand-shaping'], weight: 1 },
    });
    expect((alert!.evidence as { leadLag: { r: number } }).leadLag.r).toBeGreaterThan(0.8);
    const ledger = (await db('usage_events').whereIn('use_case_id', PAIR).andWhere('ts', '>=', '2026-06-01T00:00:00Z').andWhere('ts', '<', '2026-07-01T00:00:00Z')
      .groupBy('use_case_id').orderBy('use_case_id').select('use_case_id', db.raw('sum(cost)::text as cost'))) as { use_case_id: string; cost: string }[];
    expect(alert!.sides.map((s) => [s.useCase, s.bu, s.spend])).toEqual([
      [SHOCK.follower.useCase, 'supply-chain', ledger[0]!.cost], [SHOCK.leader.useCase, 'marketing', ledger[1]!.cost],
    ]);
    expect(alert!.sides.every((s) => s.heavy.includes('percentile'))).toBe(true);
    expect(await transitionsOf(db, [alert!.id])).toMatchObject([{ from_status: null, to_status: 'open', by: 'test', note: `raised by run ${first.run.id}` }]);
  });

  it('stores the graph with exact spend, communities and a deterministic layout in the unit square', async () => {
    const run = (await db('adjacency_runs').where({ id: first.run.id }).first()) as { result: StoredResult | string; triggered_by: string };
    const result = (typeof run.result === 'string' ? JSON.parse(run.result) : run.result) as StoredResult;
    expect(run.triggered_by).toBe('test');
    expect(result.currency).toBe('USD');
    expect(result.nodes.map((n) => n.id)).toHaveLength(6);
    for (const n of result.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.x).toBeLessThanOrEqual(1);
      expect(n.spend).toMatch(/^\d+\.\d{12}$/);
    }
    const pairCommunity = result.nodes.filter((n) => PAIR.includes(n.id)).map((n) => n.community);
    expect(pairCommunity[0]).not.toBeNull();
    expect(pairCommunity[0]).toBe(pairCommunity[1]);
    expect(result.edges.some((e) => [e.source, e.target].join() === PAIR.join())).toBe(true);
    expect(first).toMatchObject({ nodes: 6, edges: result.edges.length, communities: result.communities.length });
  });

  it('raises none in the control month', async () => {
    const control = (await runAdjacency(db, { period: '2026-08', triggeredBy: 'test' }))!;
    expect(control.alerts).toEqual({ raised: 0, new: 0, known: 0, ids: [] });
    expect(await db('adjacency_alerts').where({ period: '2026-08' })).toEqual([]);
  });

  it('de-duplicates across runs: same alert, runs = 2, one webhook; the layout is the same', async () => {
    const second = (await runAdjacency(db, { period: '2026-06', triggeredBy: 'test' }))!;
    expect(second.alerts).toMatchObject({ raised: 1, new: 0, known: 1, ids: first.alerts.ids });
    const [alert] = await alertsByIds(db, first.alerts.ids);
    expect(alert).toMatchObject({ runs: 2, first_run_id: first.run.id, last_run_id: second.run.id, status: 'open' });
    expect(alert!.last_seen_at.getTime()).toBeGreaterThanOrEqual(alert!.first_seen_at.getTime());
    expect(await listAlertDeliveries(db, first.alerts.ids)).toHaveLength(1);
    const results = (await db('adjacency_runs').whereIn('id', [first.run.id, second.run.id]).orderBy('id').select('result')) as { result: StoredResult | string }[];
    const nodes = results.map((r) => (typeof r.result === 'string' ? JSON.parse(r.result) : r.result) as StoredResult).map((r) => r.nodes);
    expect(nodes[1]).toEqual(nodes[0]);
  });

  it('delivers the council webhook once, Slack-compatible with the evidence', async () => {
    const notifier = createNotifier({ db, log: silentLog });
    expect(await notifier.runOnce()).toMatchObject({ delivered: 1 });
    expect(await notifier.runOnce()).toMatchObject({ delivered: 0 });
    const council = receiver.on('/council');
    expect(council).toHaveLength(1);
    const body = council[0]!.body as { text: string; blocks: unknown[]; tollgate: Record<string, unknown> };
    expect(body.text).toContain(SHOCK.leader.useCase);
    expect(body.text).toContain(SHOCK.follower.useCase);
    expect(body.tollgate).toMatchObject({
      kind: 'adjacency_alert', alert_id: first.alerts.ids[0], period: '2026-06', pair: PAIR, recipient: 'council',
      evidence: { leadLag: { leader: SHOCK.leader.useCase, lagDays: SHOCK.lagDays }, sharedTools: { tools: [SHOCK.tool] } },
    });
    expect(JSON.stringify(body.blocks)).toContain(`leads ${SHOCK.follower.useCase}'s by 3 days`);
    const [delivery] = await listAlertDeliveries(db, first.alerts.ids);
    expect(delivery).toMatchObject({ recipient: 'council', status: 'delivered', attempts: 1 });
  });

  it('keeps a resolved alert resolved when a later run sees the pair again', async () => {
    const id = first.alerts.ids[0]!;
    await transitionAlert(db, { id, to: 'resolved', by: 'alice', note: 'harmonized the promo calendar' });
    const third = (await runAdjacency(db, { period: '2026-06', triggeredBy: 'test' }))!;
    expect(third.alerts).toMatchObject({ new: 0, known: 1 });
    const [alert] = await alertsByIds(db, [id]);
    expect(alert).toMatchObject({ status: 'resolved', runs: 3 });
    expect(await listAlertDeliveries(db, [id])).toHaveLength(1);
  });
});
