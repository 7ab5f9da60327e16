import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import { SHOCK, shockMonthEvents } from '../helpers/adjacency-month.js';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';

/** The council's GraphQL API: the graph of a month, alerts, their lifecycle, and who may do what. */

let h: AnalyticsHarness;
let finance: string;
let owner: string;
let council: string;
let admin: string;

const PAIR = [SHOCK.follower.useCase, SHOCK.leader.useCase];
const code = (r: { body: { errors?: { extensions?: { code?: string } }[] } }) => r.body.errors?.[0]?.extensions?.code;
const ALERT_FIELDS = `id key period status pair bus weight signals evidence runs firstSeenAt lastSeenAt
  sides { useCase bu spend heavy budget budgetShare } history { from to by at note } deliveries { recipient status attempts }`;

type Alert = {
  id: string; key: string; period: string; status: string; pair: string[]; bus: string[]; weight: number; signals: string[]; runs: number;
  evidence: { leadLag: { leader: string; follower: string; lagDays: number } };
  sides: { useCase: string; bu: string; spend: string; heavy: string[] }[];
  history: { from: string | null; to: string; by: string; at: string; note: string | null }[];
  deliveries: { recipient: string; status: string; attempts: number }[];
};

async function ok<T>(token: string, query: string): Promise<T> {
  const r = await h.gql<T>(token, query);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!;
}

async function labelled(role: 'council', label: string): Promise<string> {
  const t = generateApiToken();
  await insertApiToken(h.db, { id: t.id, hash: t.hash, prefix: t.prefix, role, label });
  return t.token;
}

beforeAll(async () => {
  h = await startAnalytics();
  await h.write(shockMonthEvents({ period: '2026-06' }));
  [finance, owner, admin] = await Promise.all([h.token('finance'), h.token('bu-owner', 'marketing'), h.token('admin')]);
  council = await labelled('council', 'council chair');
});
afterAll(async () => h?.close());

describe('adjacency over GraphQL', () => {
  it('computes and stores the month on first read, then serves the stored run', async () => {
    const q = `{ adjacency(period: "2026-06") {
      run { id period from to triggeredBy alertsRaised } currency
      nodes { id bu class spend community x y useCase { id name } }
      edges { source target sourceBu targetBu weight signals { classCoupling sharedTools interactions leadLag } fired evidence }
      communities { id useCases bus spend } } }`;
    const a = (await ok<{ adjacency: { run: { id: string; period: string; from: string; triggeredBy: string; alertsRaised: number }; currency: string;
      nodes: { id: string; spend: string; community: number | null; x: number; useCase: { id: string; name: string } | null }[];
      edges: { source: string; target: string; fired: string[]; signals: { leadLag: number } }[]; communities: { useCases: string[]; spend: string }[] } }>(finance, q)).adjacency;
    expect(a.run).toMatchObject({ period: '2026-06', from: '2026-06-01T00:00:00.000Z', triggeredBy: expect.stringMatching(/^tok_/), alertsRaised: 1 });
    expect(a.currency).toBe('USD');
    expect(a.nodes).toHaveLength(6);
    expect(a.nodes.find((n) => n.id === SHOCK.leader.useCase)!.useCase).toEqual({ id: SHOCK.leader.useCase, name: 'Trade promotion automation' });
    const edge = a.edges.find((e) => [e.source, e.target].join() === PAIR.join())!;
    expect(edge.fired).toEqual(['CLASS_COUPLING', 'SHARED_TOOLS', 'LEAD_LAG']);
    expect(edge.signals.leadLag).toBeGreaterThan(0.8);
    expect(a.communities.some((c) => PAIR.every((p) => c.useCases.includes(p)))).toBe(true);
    const again = (await ok<{ adjacency: { run: { id: string } } }>(council, '{ adjacency(period: "2026-06") { run { id } } }')).adjacency;
    expect(again.run.id).toBe(a.run.id);
    expect(Number((await h.db('adjacency_runs').count({ n: '*' }).first() as { n: string | number }).n)).toBe(1);
  });

  it('lists alerts by status and period, with their evidence, sides, history and delivery', async () => {
    const { adjacencyAlerts } = await ok<{ adjacencyAlerts: Alert[] }>(council, `{ adjacencyAlerts(filter: { status: [OPEN], period: "2026-06" }) { ${ALERT_FIELDS} } }`);
    expect(adjacencyAlerts).toHaveLength(1);
    const [alert] = adjacencyAlerts;
    expect(alert).toMatchObject({
      key: `adjacency:2026-06:${PAIR.join('|')}`, period: '2026-06', status: 'OPEN', pair: PAIR, bus: ['supply-chain', 'marketing'],
      signals: ['CLASS_COUPLING', 'SHARED_TOOLS', 'LEAD_LAG'], runs: 1,
      evidence: { leadLag: { leader: SHOCK.leader.useCase, follower: SHOCK.follower.useCase, lagDays: SHOCK.lagDays } },
      deliveries: [{ recipient: 'council', status: 'no_target', attempts: 0 }],
    });
    expect(alert!.sides.map((s) => s.useCase)).toEqual(PAIR);
    expect(alert!.sides[0]!.spend).toMatch(/^\d+\.\d{12}$/);
    expect(alert!.history).toMatchObject([{ from: null, to: 'OPEN' }]);
    expect((await ok<{ adjacencyAlerts: Alert[] }>(finance, '{ adjacencyAlerts(filter: { status: [RESOLVED] }) { id } }')).adjacencyAlerts).toEqual([]);
    expect((await ok<{ adjacencyAlerts: Alert[] }>(finance, '{ adjacencyAlerts(filter: { bu: "insurance" }) { id } }')).adjacencyAlerts).toEqual([]);
    expect((await ok<{ adjacencyAlert: Alert | null }>(finance, `{ adjacencyAlert(id: "${alert!.id}") { id status } }`)).adjacencyAlert).toEqual({ id: alert!.id, status: 'OPEN' });
    expect((await ok<{ adjacencyAlert: Alert | null }>(finance, '{ adjacencyAlert(id: "999999") { id } }')).adjacencyAlert).toBeNull();
  });

  it('moves an alert through its lifecycle, recording who, when and why, and refuses other moves', async () => {
    const [{ id }] = (await ok<{ adjacencyAlerts: { id: string }[] }>(council, '{ adjacencyAlerts { id } }')).adjacencyAlerts as [{ id: string }];
    const ack = await ok<{ acknowledgeAlert: Alert }>(council, `mutation { acknowledgeAlert(id: "${id}", note: "looking") { ${ALERT_FIELDS} } }`);
    expect(ack.acknowledgeAlert.status).toBe('ACKNOWLEDGED');
    expect(ack.acknowledgeAlert.history.at(-1)).toMatchObject({ from: 'OPEN', to: 'ACKNOWLEDGED', by: 'council chair', note: 'looking' });
    expect(Date.now() - Date.parse(ack.acknowledgeAlert.history.at(-1)!.at)).toBeLessThan(60_000);

    const again = await h.gql(council, `mutation { acknowledgeAlert(id: "${id}") { id } }`);
    expect(code(again)).toBe('INVALID_TRANSITION');
    const noNote = await h.gql(council, `mutation { escalateAlert(id: "${id}", note: " ") { id } }`);
    expect(code(noNote)).toBe('BAD_USER_INPUT');

    await ok(council, `mutation { escalateAlert(id: "${id}", note: "both BUs plan the same stock") { id } }`);
    const resolved = await ok<{ resolveAlert: Alert }>(admin, `mutation { resolveAlert(id: "${id}", note: "shared calendar agreed") { ${ALERT_FIELDS} } }`);
    expect(resolved.resolveAlert.status).toBe('RESOLVED');
    expect(resolved.resolveAlert.history.map((x) => [x.from, x.to])).toEqual([[null, 'OPEN'], ['OPEN', 'ACKNOWLEDGED'], ['ACKNOWLEDGED', 'ESCALATED'], ['ESCALATED', 'RESOLVED']]);
    expect(code(await h.gql(council, `mutation { escalateAlert(id: "${id}", note: "again") { id } }`))).toBe('INVALID_TRANSITION');
    expect(code(await h.gql(council, 'mutation { resolveAlert(id: "424242", note: "x") { id } }'))).toBe('NOT_FOUND');
    expect(code(await h.gql(council, 'mutation { resolveAlert(id: "abc", note: "x") { id } }'))).toBe('BAD_USER_INPUT');
  });

  it('runs on demand; a known alert keeps its status', async () => {
    const r = await ok<{ runAdjacency: { id: string; period: string; triggeredBy: string; alertsRaised: number } }>(council, 'mutation { runAdjacency(period: "2026-06") { id period triggeredBy alertsRaised } }');
    expect(r.runAdjacency).toMatchObject({ period: '2026-06', triggeredBy: 'council chair', alertsRaised: 1 });
    const [alert] = (await ok<{ adjacencyAlerts: Alert[] }>(council, '{ adjacencyAlerts { status runs } }')).adjacencyAlerts;
    expect(alert).toMatchObject({ status: 'RESOLVED', runs: 2 });
    const latest = (await ok<{ adjacency: { run: { id: string } } }>(council, '{ adjacency(period: "2026-06") { run { id } } }')).adjacency;
    expect(latest.run.id).toBe(r.runAdjacency.id);
  });

  it('refuses bad periods and page sizes', async () => {
    expect(code(await h.gql(council, '{ adjacency(period: "2026-13") { currency } }'))).toBe('BAD_USER_INPUT');
    expect(code(await h.gql(council, '{ adjacencyAlerts(filter: { period: "June" }) { id } }'))).toBe('BAD_USER_INPUT');
    expect(code(await h.gql(council, 'mutation { runAdjacency(period: "2026-6") { id } }'))).toBe('BAD_USER_INPUT');
    // 501 alerts at a cost of 10 each pass the complexity budget (5000) before the resolver's own cap.
    expect(code(await h.gql(council, '{ adjacencyAlerts(first: 501) { id } }'))).toBe('QUERY_TOO_COMPLEX');
    expect(code(await h.gql(council, '{ adjacencyAlerts(first: 0) { id } }'))).toBe('BAD_USER_INPUT');
  });

  it('lets council and finance read, only council and admin act, and BU owners nothing', async () => {
    for (const q of ['{ adjacency(period: "2026-06") { currency } }', '{ adjacencyAlerts { id } }', '{ adjacencyAlert(id: "1") { id } }']) {
      expect(code(await h.gql(owner, q)), q).toBe('FORBIDDEN');
    }
    for (const m of ['mutation { runAdjacency(period: "2026-06") { id } }', 'mutation { acknowledgeAlert(id: "1") { id } }',
      'mutation { escalateAlert(id: "1", note: "x") { id } }', 'mutation { resolveAlert(id: "1", note: "x") { id } }']) {
      expect(code(await h.gql(finance, m)), m).toBe('FORBIDDEN');
      expect(code(await h.gql(owner, m)), m).toBe('FORBIDDEN');
    }
    expect(code(await h.gql(null, '{ adjacencyAlerts { id } }'))).toBe('UNAUTHENTICATED');
  });
});
