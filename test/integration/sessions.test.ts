import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';
import { usageEvent } from './fixtures/events.js';

let h: AnalyticsHarness;
let finance: string;
let council: string;
let marketingOwner: string;

const call = (i: number, parent: string | null, bu: string, cost: string, session = 'sess-tree') =>
  usageEvent(i, { ts: `2025-09-01T10:00:0${i}Z`, session_id: session, parent_request_id: parent, bu_id: bu, agent_id: `agent-${bu}`, use_case_id: `uc-${bu}`, cost }, 'sx');

beforeAll(async () => {
  h = await startAnalytics();
  // root(1) → 2 → 3 (supply-chain) ; 1 → 4 ; 5's parent is in another session.
  await h.write([
    call(1, null, 'marketing', '1'), call(2, 'sx-1', 'marketing', '2'), call(3, 'sx-2', 'supply-chain', '4'),
    call(4, 'sx-1', 'marketing', '0.5'), call(5, 'elsewhere', 'marketing', '0.25'),
    call(6, null, 'marketing', '100', 'sess-big'), call(7, null, 'insurance', '3', 'sess-mid'),
  ]);
  finance = await h.token('finance');
  council = await h.token('council');
  marketingOwner = await h.token('bu-owner', 'marketing');
});
afterAll(async () => h?.close());

type S = { session: { steps: number; cost: string; agents: string[]; businessUnits: string[]; maxDepth: number; roots: string[]; calls: { requestId: string; depth: number; note: string | null; subtreeCost: string; children: string[] }[] } | null };
const Q = '{ session(id: "sess-tree") { steps cost agents businessUnits maxDepth roots calls { requestId depth note subtreeCost children } } }';

describe('sessions', () => {
  it('serves a session as a cost tree, flat in pre-order', async () => {
    const s = (await h.gql<S>(finance, Q)).body.data!.session!;
    expect(s).toMatchObject({ steps: 5, cost: '7.750000000000', businessUnits: ['marketing', 'supply-chain'], maxDepth: 2, roots: ['sx-1', 'sx-5'] });
    expect(s.calls.map((c) => [c.requestId, c.depth])).toEqual([['sx-1', 0], ['sx-2', 1], ['sx-3', 2], ['sx-4', 1], ['sx-5', 0]]);
    expect(s.calls[0]).toMatchObject({ subtreeCost: '7.500000000000', children: ['sx-2', 'sx-4'] });
    expect(s.calls[4]!.note).toBe('PARENT_NOT_IN_SESSION');
  });

  it("shows a BU owner only its BU's calls, filtered in the query, and refuses the council", async () => {
    const s = (await h.gql<S>(marketingOwner, Q)).body.data!.session!;
    expect(s.businessUnits).toEqual(['marketing']);
    expect(s.steps).toBe(4);
    expect((await h.gql(council, Q)).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await h.gql<S>(finance, '{ session(id: "nope") { steps } }')).body.data!.session).toBeNull();
  });

  it('ranks the most expensive sessions of a period', async () => {
    type T = { topSessions: { id: string; cost: string; calls: string }[] };
    const top = (await h.gql<T>(finance, '{ topSessions(period: "2025-09", limit: 2) { id cost calls } }')).body.data!.topSessions;
    expect(top).toEqual([{ id: 'sess-big', cost: '100.000000000000', calls: '1' }, { id: 'sess-tree', cost: '7.750000000000', calls: '5' }]);
    const mine = (await h.gql<T>(marketingOwner, '{ topSessions(period: "2025-09") { id } }')).body.data!.topSessions;
    expect(mine.map((s) => s.id)).toEqual(['sess-big', 'sess-tree']);
    expect((await h.gql(finance, '{ topSessions(period: "2025-09", limit: 101) { id } }')).body.errors?.[0]?.extensions?.code).toBe('PAGE_SIZE_EXCEEDED');
  });
});
