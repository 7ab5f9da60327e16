import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE_MONTHLY_FROM_HOURLY } from '../../src/db/rollups.js';
import { sumLedger } from '../../src/db/ledger.js';
import { normalizeDecimal } from '../helpers/expect-cost.js';
import { startAnalytics, syntheticDecisions, syntheticUsage, type AnalyticsHarness } from './fixtures/analytics.js';

let h: AnalyticsHarness;
let finance: string;
const usage = syntheticUsage(600, 'cb');
const decisions = syntheticDecisions(80, 'cbd');

beforeAll(async () => {
  h = await startAnalytics();
  // Several batches, one of them replayed: the rollups must count each event once.
  await h.write([...usage.slice(0, 250), ...decisions.slice(0, 40)]);
  await h.write(usage.slice(250, 500));
  await h.write([...usage.slice(0, 250), ...decisions.slice(0, 40)]);
  await h.write([...usage.slice(500), ...decisions.slice(40)]);
  finance = await h.token('finance');
});
afterAll(async () => h?.close());

const FIELDS = 'calls inputTokens cachedInputTokens cacheWriteTokens outputTokens cost';
type Totals = { calls: string; inputTokens: string; cachedInputTokens: string; cacheWriteTokens: string; outputTokens: string; cost: string };
type Report = { chargeback: { currency: string; rows: (Totals & { key: Record<string, string | null>; share: string })[]; totals: Totals; denied: { calls: string; byCode: { code: string; calls: string }[] } } };

async function chargeback(args: string): Promise<Report['chargeback']> {
  const r = await h.gql<Report>(finance, `{ chargeback(${args}) { currency rows { key { bu useCase agent model provider day month } share ${FIELDS} } totals { ${FIELDS} } denied { calls byCode { code calls } } } }`);
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.chargeback;
}

/** Σ over rows with BigInt (exact), as the test's own arithmetic. */
function addUp(rows: Totals[]): Totals {
  const keys = ['calls', 'inputTokens', 'cachedInputTokens', 'cacheWriteTokens', 'outputTokens'] as const;
  const out = Object.fromEntries(keys.map((k) => [k, rows.reduce((n, r) => n + BigInt(r[k]), 0n).toString()])) as Totals;
  const pico = rows.reduce((n, r) => n + BigInt(r.cost.replace('.', '')), 0n);
  out.cost = `${pico / 10n ** 12n}.${(pico % 10n ** 12n).toString().padStart(12, '0')}`;
  return out;
}

async function ledgerSum(from: string, to: string, buId?: string) {
  const t = await sumLedger(h.db, { from, to, buId });
  return { calls: String(t.calls), inputTokens: String(t.input_tokens), cachedInputTokens: String(t.cached_input_tokens), cacheWriteTokens: String(t.cache_write_tokens), outputTokens: String(t.output_tokens), cost: t.cost };
}

const MONTHLY_ROWS = `
  select accounting_period, bu_id, use_case_id, agent_id, provider, model_served, calls::text as calls, input_tokens::text as i,
    cached_input_tokens::text as c, cache_write_tokens::text as w, output_tokens::text as o, cost::text as cost,
    partial_calls::text as p, error_calls::text as e
  from usage_monthly order by 1, 2, 3, 4, 5, 6`;

describe('rollups', () => {
  it('equal a GROUP BY of the ledger after several batches and a replayed one', async () => {
    const fromLedger = await h.db.raw(`
      select date_trunc('hour', ts at time zone 'UTC') at time zone 'UTC' as hour, bu_id, use_case_id, agent_id, provider, model_served,
        count(*)::text as calls, sum(input_tokens)::text as i, sum(output_tokens)::text as o, sum(cost)::text as cost,
        (count(*) filter (where partial))::text as p, (count(*) filter (where status >= 400))::text as e
      from usage_events group by 1, 2, 3, 4, 5, 6 order by 1, 2, 3, 4, 5, 6`);
    const fromRollup = await h.db.raw(`
      select hour, bu_id, use_case_id, agent_id, provider, model_served, calls::text as calls, input_tokens::text as i,
        output_tokens::text as o, cost::text as cost, partial_calls::text as p, error_calls::text as e
      from usage_hourly order by 1, 2, 3, 4, 5, 6`);
    const norm = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r, hour: new Date(r.hour as string).toISOString(), cost: normalizeDecimal(r.cost as string) }));
    expect(fromRollup.rows.length).toBeGreaterThan(100);
    expect(norm(fromRollup.rows)).toEqual(norm(fromLedger.rows));
    const ledgerCount = await h.db('usage_events').count<{ n: string }[]>({ n: '*' });
    expect(Number(ledgerCount[0]!.n)).toBe(usage.length);
    const monthlyFromLedger = await h.db.raw(`
      select accounting_period, bu_id, use_case_id, agent_id, provider, model_served, count(*)::text as calls,
        sum(input_tokens)::text as i, sum(cached_input_tokens)::text as c, sum(cache_write_tokens)::text as w,
        sum(output_tokens)::text as o, sum(cost)::text as cost,
        (count(*) filter (where partial))::text as p, (count(*) filter (where status >= 400))::text as e
      from usage_events group by 1, 2, 3, 4, 5, 6 order by 1, 2, 3, 4, 5, 6`);
    const monthly = await h.db.raw(MONTHLY_ROWS);
    const normCost = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r, cost: normalizeDecimal(r.cost as string) }));
    expect(monthly.rows.length).toBeGreaterThan(10);
    expect(normCost(monthly.rows)).toEqual(normCost(monthlyFromLedger.rows));
    // The migration's backfill (from usage_hourly) gives the same rows; rolled back afterwards.
    const trx = await h.db.transaction();
    try {
      await trx('usage_monthly').delete();
      await trx.raw(USAGE_MONTHLY_FROM_HOURLY);
      const backfilled = await trx.raw(MONTHLY_ROWS);
      expect(normCost(backfilled.rows)).toEqual(normCost(monthlyFromLedger.rows));
    } finally {
      await trx.rollback();
    }
    const denied = await h.db.raw(`select coalesce(bu_id, '') as bu_id, code, count(*)::int as n from decision_log group by 1, 2 order by 1, 2`);
    const deniedRollup = await h.db.raw(`select bu_id, code, sum(calls)::int as n from decisions_hourly group by 1, 2 order by 1, 2`);
    expect(deniedRollup.rows).toEqual(denied.rows);
  });
});

describe('chargeback', () => {
  const dims = ['BU', 'USE_CASE', 'AGENT', 'MODEL', 'PROVIDER', 'DAY', 'MONTH'];
  const combos = [...dims.map((d) => [d]), ['BU', 'USE_CASE'], ['BU', 'MODEL', 'DAY'], ['AGENT', 'PROVIDER', 'MONTH'], dims, []];

  for (const groupBy of combos) {
    it(`by [${groupBy.join(', ')}]: rows and totals equal the ledger's sum to the cent`, async () => {
      const r = await chargeback(`period: "2026-11", groupBy: [${groupBy.join(', ')}]`);
      const ledger = await ledgerSum('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z');
      expect(Number(ledger.calls)).toBeGreaterThan(100);
      expect(r.totals).toEqual(ledger);
      expect(addUp(r.rows)).toEqual(ledger);
      expect(r.currency).toBe('USD');
      for (const row of r.rows) {
        for (const d of dims) {
          const k = { BU: 'bu', USE_CASE: 'useCase', AGENT: 'agent', MODEL: 'model', PROVIDER: 'provider', DAY: 'day', MONTH: 'month' }[d]!;
          expect(row.key[k] === null).toBe(!groupBy.includes(d));
        }
      }
    });
  }

  it('spans months with from/to and filters in SQL', async () => {
    const r = await chargeback('from: "2026-10-15T00:00:00Z", to: "2026-12-15T06:00:00Z", groupBy: [MONTH], filter: { bu: "marketing" }');
    expect(r.rows.map((x) => x.key.month)).toEqual(['2026-10', '2026-11', '2026-12']);
    expect(r.totals).toEqual(await ledgerSum('2026-10-15T00:00:00Z', '2026-12-15T06:00:00Z', 'marketing'));
  });

  it('gives shares as exact 6-decimal strings that add up to about 1', async () => {
    const r = await chargeback('period: "2026-11", groupBy: [BU]');
    for (const row of r.rows) expect(row.share).toMatch(/^0\.\d{6}$/);
    const sum = r.rows.reduce((n, x) => n + Number(x.share), 0);
    expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    expect(r.totals.cost).toMatch(/^\d+\.\d{12}$/);
  });

  it('reports denied calls beside spend, never inside it', async () => {
    const r = await chargeback('period: "2026-11", groupBy: [BU]');
    const n = await h.db('decision_log').where('ts', '>=', '2026-11-01T00:00:00Z').andWhere('ts', '<', '2026-12-01T00:00:00Z').count<{ n: string }[]>({ n: '*' });
    expect(r.denied.calls).toBe(String(n[0]!.n));
    expect(r.denied.byCode.map((c) => c.code).sort()).toEqual(['budget_exhausted', 'missing_tag', 'model_not_allowed']);
    expect(r.totals).toEqual(await ledgerSum('2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'));
  });

  it('refuses bad periods with BAD_USER_INPUT', async () => {
    for (const args of ['period: "2026-13"', 'from: "2026-11-01T00:30:00Z", to: "2026-11-02T00:00:00Z"', 'period: "2026-11", from: "2026-11-01T00:00:00Z"', 'from: "2026-11-02T00:00:00Z", to: "2026-11-01T00:00:00Z"']) {
      const r = await h.gql(finance, `{ chargeback(${args}, groupBy: [BU]) { currency } }`);
      expect(r.body.errors?.[0]?.extensions?.code, args).toBe('BAD_USER_INPUT');
    }
  });

  it('never reads usage_events', async () => {
    const sql: string[] = [];
    const listen = (q: { sql: string }) => sql.push(q.sql);
    h.app.analyticsDb.on('query', listen);
    try {
      await chargeback('period: "2026-11", groupBy: [BU, USE_CASE, AGENT, MODEL, PROVIDER, DAY]');
    } finally {
      h.app.analyticsDb.removeListener('query', listen);
    }
    expect(sql.length).toBeGreaterThan(0);
    expect(sql.join('\n')).not.toMatch(/usage_events/);
  });
});

describe('GET /v1/reports/chargeback', () => {
  it('serves the month as CSV, the same totals as GraphQL', async () => {
    const res = await h.app.inject({ url: '/v1/reports/chargeback?period=2026-11&format=csv', headers: { authorization: `Bearer ${finance}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const [header, ...lines] = res.body.trim().split('\n');
    expect(header).toBe('bu_id,use_case_id,calls,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost');
    const gql = await chargeback('period: "2026-11", groupBy: [BU, USE_CASE]');
    expect(lines).toEqual(gql.rows.map((r) => [r.key.bu, r.key.useCase, r.calls, r.inputTokens, r.cachedInputTokens, r.cacheWriteTokens, r.outputTokens, r.cost].join(',')));
  });

  it('serves JSON, and refuses a missing token, a bad period and a bu-owner asking past its BU', async () => {
    const json = await h.app.inject({ url: '/v1/reports/chargeback?period=2026-11', headers: { authorization: `Bearer ${finance}` } });
    expect(json.statusCode).toBe(200);
    expect(json.json().totals.cost).toMatch(/^\d+\.\d{12}$/);
    expect((await h.app.inject({ url: '/v1/reports/chargeback?period=2026-11' })).json().error.code).toBe('UNAUTHENTICATED');
    expect((await h.app.inject({ url: '/v1/reports/chargeback?period=2026-11' })).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/v1/reports/chargeback?period=nope', headers: { authorization: `Bearer ${finance}` } })).statusCode).toBe(400);
    const owner = await h.token('bu-owner', 'insurance');
    const own = (await h.app.inject({ url: '/v1/reports/chargeback?period=2026-11', headers: { authorization: `Bearer ${owner}` } })).json();
    expect(own.rows.every((r: { key: { bu: string } }) => r.key.bu === 'insurance')).toBe(true);
    expect(own.rows.length).toBeGreaterThan(0);
  });

  it('has no gateway routes in the analytics role', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/openai/v1/chat/completions', payload: {} });
    expect(res.statusCode).toBe(404);
  });
});
