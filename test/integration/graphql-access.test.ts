import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiToken, hashApiToken } from '../../src/db/api-tokens.js';
import { startAnalytics, syntheticDecisions, syntheticUsage, type AnalyticsHarness } from './fixtures/analytics.js';

let h: AnalyticsHarness;
let owner: string;
let council: string;
let admin: string;

beforeAll(async () => {
  h = await startAnalytics();
  await h.write([...syntheticUsage(300, 'acc'), ...syntheticDecisions(60, 'accd')]);
  owner = await h.token('bu-owner', 'marketing');
  council = await h.token('council');
  admin = await h.token('admin');
});
afterAll(async () => h?.close());

const code = (r: { body: { errors?: { extensions?: { code?: string } }[] } }) => r.body.errors?.[0]?.extensions?.code;

describe('authentication', () => {
  it('refuses no token, a malformed one, an unknown one and a revoked one with UNAUTHENTICATED', async () => {
    const revoked = await h.token('finance');
    await revokeApiToken(h.db, { hash: hashApiToken(revoked) });
    for (const t of [null, 'nope', `tga_${'A'.repeat(43)}`, revoked]) {
      const r = await h.gql(t, '{ viewer { role } }');
      expect(r.status).toBe(401);
      expect(code(r)).toBe('UNAUTHENTICATED');
      expect(r.body.data ?? null).toBeNull();
    }
  });

  it('does not even validate an anonymous query', async () => {
    const r = await h.gql(null, '{ nosuchfield }');
    expect(code(r)).toBe('UNAUTHENTICATED');
  });

  it('tells each caller its role', async () => {
    expect((await h.gql(owner, '{ viewer { role bu } }')).body.data).toEqual({ viewer: { role: 'BU_OWNER', bu: 'marketing' } });
    expect((await h.gql(admin, '{ viewer { role bu } }')).body.data).toEqual({ viewer: { role: 'ADMIN', bu: null } });
  });
});

describe('a BU owner', () => {
  it('sees only its BU in chargeback, even grouped by agent or model', async () => {
    for (const groupBy of ['BU', 'AGENT', 'USE_CASE, MODEL', 'PROVIDER, DAY']) {
      const r = await h.gql<{ chargeback: { rows: { key: { bu: string | null }; agent: { bu: { id: string } } | null; useCase: { bu: { id: string } } | null }[]; totals: { calls: string } } }>(owner,
        `{ chargeback(period: "2026-11", groupBy: [BU, ${groupBy}]) { rows { key { bu } agent { bu { id } } useCase { bu { id } } } totals { calls } } }`);
      expect(r.body.errors).toBeUndefined();
      const rows = r.body.data!.chargeback.rows;
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((x) => x.key.bu === 'marketing')).toBe(true);
    }
    const all = await h.gql<{ chargeback: { totals: { calls: string } } }>(admin, '{ chargeback(period: "2026-11", groupBy: []) { totals { calls } } }');
    const own = await h.gql<{ chargeback: { totals: { calls: string } } }>(owner, '{ chargeback(period: "2026-11", groupBy: []) { totals { calls } } }');
    const marketing = await h.db('usage_events').where('bu_id', 'marketing').andWhere('ts', '>=', '2026-11-01T00:00:00Z').andWhere('ts', '<', '2026-12-01T00:00:00Z').count<{ n: string }[]>({ n: '*' });
    expect(own.body.data!.chargeback.totals.calls).toBe(String(marketing[0]!.n));
    expect(BigInt(all.body.data!.chargeback.totals.calls)).toBeGreaterThan(BigInt(own.body.data!.chargeback.totals.calls));
  });

  it('gets FORBIDDEN, not an empty list, for filters naming another BU (or its use case or agent)', async () => {
    for (const filter of ['bu: "supply-chain"', 'useCase: "demand-forecasting"', 'agent: "demand-forecaster"']) {
      const r = await h.gql(owner, `{ chargeback(period: "2026-11", groupBy: [BU], filter: { ${filter} }) { rows { cost } } }`);
      expect(code(r), filter).toBe('FORBIDDEN');
    }
    for (const q of ['{ decisions(filter: { bu: "insurance" }) { nodes { id } } }', '{ useCases(bu: "insurance") { id } }', '{ agents(bu: "supply-chain") { id } }']) {
      expect(code(await h.gql(owner, q)), q).toBe('FORBIDDEN');
    }
  });

  it('sees only its BU in decisions, the catalog and every relation', async () => {
    const r = await h.gql<{ decisions: { nodes: { buId: string; bu: { id: string } | null; useCase: { bu: { id: string } } | null }[] }; businessUnits: { id: string; useCases: { id: string }[] }[]; useCases: { bu: { id: string } }[]; agents: { bu: { id: string } }[] }>(owner, `{
      decisions(first: 200) { nodes { buId bu { id } useCase { bu { id } } } }
      businessUnits { id useCases { id } }
      useCases { bu { id } }
      agents { bu { id } }
    }`);
    expect(r.body.errors).toBeUndefined();
    const d = r.body.data!;
    expect(d.decisions.nodes.length).toBeGreaterThan(0);
    expect(d.decisions.nodes.every((n) => n.buId === 'marketing' && n.bu?.id === 'marketing' && n.useCase?.bu.id === 'marketing')).toBe(true);
    expect(d.businessUnits.map((b) => b.id)).toEqual(['marketing']);
    expect(d.useCases.every((u) => u.bu.id === 'marketing')).toBe(true);
    expect(d.agents.every((a) => a.bu.id === 'marketing')).toBe(true);
  });

  it('resolves a relation to another BU (a mis-tagged denial) as null', async () => {
    await h.write(syntheticDecisions(1, 'mistag').map((x) => ({ ...x, bu_id: 'marketing', use_case_id: 'demand-forecasting', agent_id: 'demand-forecaster', code: 'use_case_bu_mismatch' })));
    const r = await h.gql<{ decisions: { nodes: { useCaseId: string; useCase: unknown; agent: unknown }[] } }>(owner, '{ decisions(filter: { code: "use_case_bu_mismatch" }) { nodes { useCaseId useCase { name } agent { name } } } }');
    expect(r.body.data!.decisions.nodes).toEqual([{ useCaseId: 'demand-forecasting', useCase: null, agent: null }]);
  });

  it('has bu_id = its BU in every SQL statement its queries run', async () => {
    const sql: { sql: string; bindings: unknown[] }[] = [];
    const listen = (q: { sql: string; bindings: unknown[] }) => sql.push(q);
    h.app.analyticsDb.on('query', listen);
    try {
      await h.gql(owner, `{ chargeback(period: "2026-11", groupBy: [AGENT]) { rows { agent { name } useCase { name } businessUnit { name } } denied { calls } }
        decisions(first: 20) { nodes { useCase { name bu { name useCases { id } } } agent { name } } } businessUnits { name } useCases { name } agents { name } }`);
    } finally {
      h.app.analyticsDb.removeListener('query', listen);
    }
    const reads = sql.filter((q) => /^select/i.test(q.sql) && !/api_tokens/.test(q.sql));
    expect(reads.length).toBeGreaterThanOrEqual(8);
    for (const q of reads) {
      expect(q.sql, q.sql).toMatch(/"?(bu_)?id"? = (\?|\$\d+)/);
      expect(q.bindings, q.sql).toContain('marketing');
    }
  });
});

describe('the council', () => {
  it('sees aggregate spend by BU and use case', async () => {
    const r = await h.gql<{ chargeback: { rows: unknown[] } }>(council, '{ chargeback(period: "2026-11", groupBy: [BU, USE_CASE, MONTH]) { rows { cost useCase { name } } } }');
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.chargeback.rows.length).toBeGreaterThan(0);
  });

  it('cannot read agents, models, providers, sessions of calls or decisions', async () => {
    for (const q of [
      '{ chargeback(period: "2026-11", groupBy: [AGENT]) { rows { cost } } }',
      '{ chargeback(period: "2026-11", groupBy: [MODEL]) { rows { cost } } }',
      '{ chargeback(period: "2026-11", groupBy: [BU], filter: { agent: "promo-planner" }) { rows { cost } } }',
      '{ decisions { nodes { id } } }',
      '{ agents { id } }',
    ]) expect(code(await h.gql(council, q)), q).toBe('FORBIDDEN');
    const rel = await h.gql<{ chargeback: { rows: { agent: unknown }[] } }>(council, '{ chargeback(period: "2026-11", groupBy: [BU]) { rows { agent { name } } } }');
    expect(rel.body.data!.chargeback.rows.every((x) => x.agent === null)).toBe(true);
  });
});

describe('finance and admin', () => {
  it('see every BU', async () => {
    for (const t of [admin, await h.token('finance')]) {
      const r = await h.gql<{ businessUnits: { id: string }[]; decisions: { nodes: { buId: string | null }[] } }>(t, '{ businessUnits { id } decisions(first: 500) { nodes { buId } } }');
      expect(r.body.data!.businessUnits.map((b) => b.id)).toEqual(['insurance', 'marketing', 'supply-chain']);
      expect(new Set(r.body.data!.decisions.nodes.map((n) => n.buId)).size).toBeGreaterThanOrEqual(3);
    }
  });
});
