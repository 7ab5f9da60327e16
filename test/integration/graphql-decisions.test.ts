import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnalytics, syntheticDecisions, type AnalyticsHarness } from './fixtures/analytics.js';

let h: AnalyticsHarness;
let finance: string;
const all = syntheticDecisions(260, 'dec');

beforeAll(async () => {
  h = await startAnalytics();
  // Two denials at the very same instant: the cursor must still order and split them.
  await h.write([...all, ...syntheticDecisions(2, 'same').map((d) => ({ ...d, ts: '2026-11-20T10:00:00.123456Z' }))]);
  finance = await h.token('finance');
});
afterAll(async () => h?.close());

type Page = { decisions: { nodes: { id: string; ts: string; code: string }[]; edges: { cursor: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
const code = (r: { body: { errors?: { extensions?: { code?: string } }[] } }) => r.body.errors?.[0]?.extensions?.code;

describe('decisions', () => {
  it('pages through the whole log newest first, each row once', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const r: { body: { data?: Page | null } } = await h.gql<Page>(finance, 'query($after: String) { decisions(first: 50, after: $after) { nodes { id ts } edges { cursor } pageInfo { hasNextPage endCursor } } }', { after });
      const d = r.body.data!.decisions;
      seen.push(...d.nodes.map((n) => n.id));
      after = d.pageInfo.hasNextPage ? d.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(6);
    expect(seen).toHaveLength(262);
    expect(new Set(seen).size).toBe(262);
    const ordered = await h.db('decision_log').select('id').orderBy([{ column: 'ts', order: 'desc' }, { column: 'id', order: 'desc' }]);
    expect(seen).toEqual(ordered.map((r: { id: number | string }) => String(r.id)));
  });

  it('filters by code and time', async () => {
    const r = await h.gql<Page>(finance, '{ decisions(first: 500, filter: { code: "budget_exhausted", from: "2026-11-10T00:00:00Z", to: "2026-11-20T00:00:00Z" }) { nodes { code ts } } }');
    const nodes = r.body.data!.decisions.nodes;
    const expected = all.filter((d) => d.code === 'budget_exhausted' && d.ts >= '2026-11-10' && d.ts < '2026-11-20');
    expect(nodes).toHaveLength(expected.length);
    expect(nodes.every((n) => n.code === 'budget_exhausted')).toBe(true);
  });

  it('caps the page size with PAGE_SIZE_EXCEEDED and refuses a forged cursor', async () => {
    expect(code(await h.gql(finance, '{ decisions(first: 501) { nodes { id } } }'))).toBe('PAGE_SIZE_EXCEEDED');
    expect(code(await h.gql(finance, '{ decisions(first: 0) { nodes { id } } }'))).toBe('BAD_USER_INPUT');
    expect(code(await h.gql(finance, '{ decisions(after: "not-a-cursor") { nodes { id } } }'))).toBe('BAD_USER_INPUT');
  });

  it('loads the relations of a page of 50 in a constant number of queries (no N+1)', async () => {
    const sql: string[] = [];
    const listen = (q: { sql: string }) => sql.push(q.sql);
    h.app.analyticsDb.on('query', listen);
    try {
      const r = await h.gql<{ decisions: { nodes: { useCase: { name: string; class: string; bu: { name: string } } | null }[] } }>(finance,
        '{ decisions(first: 50) { nodes { code useCase { name class bu { name } } agent { name bu { name } } bu { name } } } }');
      expect(r.body.errors).toBeUndefined();
      const named = r.body.data!.decisions.nodes.filter((n) => n.useCase);
      expect(named.length).toBeGreaterThan(20);
      expect(named.every((n) => n.useCase!.bu.name.length > 0)).toBe(true);
    } finally {
      h.app.analyticsDb.removeListener('query', listen);
    }
    // api token + the page + use cases + agents + BUs (of decisions, use cases and agents: one batch each level).
    expect(sql.length).toBeLessThanOrEqual(7);
  });
});

describe('limits and malformed queries', () => {
  it('refuses a query nested too deeply with QUERY_TOO_DEEP', async () => {
    const r = await h.gql(finance, '{ businessUnits { useCases { bu { useCases { bu { useCases { bu { useCases { bu { id } } } } } } } } } }');
    expect(r.status).toBe(400);
    expect(code(r)).toBe('QUERY_TOO_DEEP');
  });

  it('refuses a query that would cost too much with QUERY_TOO_COMPLEX, counting variables', async () => {
    const q = 'query($n: Int) { decisions(first: $n) { nodes { useCase { bu { useCases { id name class } } } agent { bu { name } } bu { useCases { id } } } edges { node { id useCase { name } } } } }';
    const big = await h.gql(finance, q, { n: 500 });
    expect(big.status).toBe(400);
    expect(code(big)).toBe('QUERY_TOO_COMPLEX');
    const small = await h.gql(finance, q, { n: 10 });
    expect(small.body.errors).toBeUndefined();
    const aliases = Array.from({ length: 6 }, (_, i) => `c${i}: chargeback(period: "2026-11", groupBy: [BU]) { totals { cost } }`).join(' ');
    expect(code(await h.gql(finance, `{ ${aliases} }`))).toBe('QUERY_TOO_COMPLEX');
  });

  it('answers malformed and invalid queries with 400 and a code', async () => {
    const syntax = await h.gql(finance, '{ decisions { nodes { id }');
    expect(syntax.status).toBe(400);
    expect(code(syntax)).toBe('GRAPHQL_PARSE_FAILED');
    const unknown = await h.gql(finance, '{ decisions { nodes { nosuch } } }');
    expect(unknown.status).toBe(400);
    expect(code(unknown)).toBe('GRAPHQL_VALIDATION_FAILED');
    const badScalar = await h.gql(finance, '{ chargeback(from: "yesterday", to: "2026-11-02T00:00:00Z", groupBy: [BU]) { currency } }');
    expect(badScalar.status).toBe(400);
  });

  it('ends a query that runs too long with TIMEOUT', async () => {
    const { withTimeout } = await import('../../src/graphql/context.js');
    const ctx = { timeoutMs: 50 } as Parameters<typeof withTimeout>[0];
    await expect(withTimeout(ctx, () => new Promise((r) => setTimeout(r, 1000)))).rejects.toMatchObject({ extensions: { code: 'TIMEOUT' } });
    await expect(withTimeout(ctx, () => Promise.reject(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })))).rejects.toMatchObject({ extensions: { code: 'TIMEOUT' } });
  });

  it('serves GraphiQL outside production', async () => {
    const res = await h.app.inject({ url: '/graphiql' });
    expect(res.statusCode).toBe(200);
  });
});
