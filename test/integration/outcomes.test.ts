import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';
import { usageEvent } from './fixtures/events.js';

let h: AnalyticsHarness;
let finance: string;
let marketingOwner: string;

// Spend of trade-promo-automation in 2025-06: 3 calls, hand-added: 10.5 + 2.25 + 0.000000000001.
const COSTS = ['10.500000000000', '2.250000000000', '0.000000000001'];

beforeAll(async () => {
  h = await startAnalytics();
  await h.write(COSTS.map((cost, i) => usageEvent(i, { ts: `2025-06-${10 + i}T08:00:00Z`, bu_id: 'marketing', use_case_id: 'trade-promo-automation', cost }, 'out')));
  // Outside the period: not counted.
  await h.write([usageEvent(9, { ts: '2025-07-01T00:00:00Z', use_case_id: 'trade-promo-automation', cost: '99' }, 'out')]);
  finance = await h.token('finance');
  marketingOwner = await h.token('bu-owner', 'marketing');
});
afterAll(async () => h?.close());

type Cpo = { cost: string; delta: string | null; improvement: string | null; ratio: string | null; reason: string | null; start: { value: string } | null; end: { value: string } | null };
const CPO = 'query($uc: ID!, $p: String!) { costPerOutcome(useCase: $uc, period: $p) { cost delta improvement ratio reason start { value } end { value } } }';
const record = (token: string, uc: string, at: string, value: string) =>
  h.gql<{ recordOutcome: { status: string } }>(token, 'mutation($uc: ID!, $at: DateTime!, $v: Decimal!) { recordOutcome(useCase: $uc, metric: "promo_incremental_revenue", at: $at, value: $v) { status } }', { uc, at, v: value });

describe('cost per outcome', () => {
  it('says NO_DATA before any point, then MISSING_END with only a start', async () => {
    let r = await h.gql<{ costPerOutcome: Cpo }>(finance, CPO, { uc: 'trade-promo-automation', p: '2025-06' });
    expect(r.body.data!.costPerOutcome).toMatchObject({ cost: '12.750000000001', ratio: null, reason: 'NO_DATA' });
    expect((await record(finance, 'trade-promo-automation', '2025-05-31T00:00:00Z', '1000')).body.data!.recordOutcome.status).toBe('INSERTED');
    r = await h.gql<{ costPerOutcome: Cpo }>(finance, CPO, { uc: 'trade-promo-automation', p: '2025-06' });
    expect(r.body.data!.costPerOutcome.reason).toBe('MISSING_END');
  });

  it('matches the hand-computed fixture: 12.750000000001 ÷ (1003.5 − 1000) = 3.642857142857', async () => {
    expect((await record(finance, 'trade-promo-automation', '2025-07-01T00:00:00Z', '1003.5')).body.data!.recordOutcome.status).toBe('INSERTED');
    const r = await h.gql<{ costPerOutcome: Cpo }>(finance, CPO, { uc: 'trade-promo-automation', p: '2025-06' });
    expect(r.body.data!.costPerOutcome).toEqual({ cost: '12.750000000001', delta: '3.5', improvement: '3.5', ratio: '3.642857142857', reason: null, start: { value: '1000' }, end: { value: '1003.5' } });
  });

  it('is idempotent on (use case, metric, time): same value UNCHANGED, another UPDATED', async () => {
    expect((await record(finance, 'trade-promo-automation', '2025-07-01T00:00:00Z', '1003.50')).body.data!.recordOutcome.status).toBe('UNCHANGED');
    expect((await record(finance, 'trade-promo-automation', '2025-07-01T00:00:00Z', '1000')).body.data!.recordOutcome.status).toBe('UPDATED');
    const r = await h.gql<{ costPerOutcome: Cpo }>(finance, CPO, { uc: 'trade-promo-automation', p: '2025-06' });
    expect(r.body.data!.costPerOutcome).toMatchObject({ delta: '0', ratio: null, reason: 'ZERO_DELTA' });
    await record(finance, 'trade-promo-automation', '2025-07-01T00:00:00Z', '1003.5');
  });

  it("keeps a BU owner to its BU's use cases", async () => {
    const r = await record(marketingOwner, 'underwriting-assist', '2025-06-01T00:00:00Z', '1');
    expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const q = await h.gql(marketingOwner, CPO, { uc: 'underwriting-assist', p: '2025-06' });
    expect(q.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('POST /v1/outcomes', () => {
  const post = (token: string | null, type: string, payload: string) =>
    h.app.inject({ method: 'POST', url: '/v1/outcomes', headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, payload });

  it('imports a CSV in batches, counting inserted, updated, unchanged and rejected lines', async () => {
    const lines = ['use_case,metric,ts,value'];
    for (let i = 0; i < 12_000; i++) lines.push(`digital-marketing,qualified_leads,${new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString()},${i}`);
    lines.push('nope,qualified_leads,2025-01-01,1', 'digital-marketing,qualified_leads,yesterday,1', 'digital-marketing,qualified_leads,2025-01-01,abc');
    let res = await post(finance, 'text/csv', lines.join('\n'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ inserted: 12_000, updated: 0, unchanged: 0, rejected: 3, rejects: [{ line: 12_002 }, { line: 12_003 }, { line: 12_004 }] });
    lines[2] = lines[2]!.replace(/,1$/, ',7');
    res = await post(finance, 'text/csv', lines.join('\n'));
    expect(res.json()).toMatchObject({ inserted: 0, updated: 1, unchanged: 11_999, rejected: 3 });
    expect(Number((await h.db('outcome_points').where('use_case_id', 'digital-marketing').count<{ n: string }[]>({ n: '*' }))[0]!.n)).toBe(12_000);
  });

  it('takes a JSON array and JSON lines, and refuses without a token or with a bad header', async () => {
    const body = [{ use_case: 'inventory-management', metric: 'fill_rate', ts: '2025-06-01', value: 97.5 }, { use_case: 'inventory-management', metric: 'fill_rate', ts: '2025-06-02T00:00:00+02:00', value: '97.75' }];
    expect((await post(finance, 'application/json', JSON.stringify(body))).json()).toMatchObject({ inserted: 2, rejected: 0 });
    expect((await post(finance, 'application/x-ndjson', body.map((b) => JSON.stringify(b)).join('\n'))).json()).toMatchObject({ inserted: 0, unchanged: 2 });
    expect((await post(null, 'text/csv', 'use_case,metric,ts,value\n')).statusCode).toBe(401);
    expect((await post(finance, 'text/csv', 'a,b,c\n')).statusCode).toBe(400);
    const owner = await post(marketingOwner, 'application/json', JSON.stringify(body));
    expect(owner.json()).toMatchObject({ inserted: 0, rejected: 2 });
  });
});

describe('tollgate outcome import (parsing path)', () => {
  it('reads JSON lines from a file stream', async () => {
    const { importOutcomeLines } = await import('../../src/analytics/outcome-import.js');
    const { upsertOutcomePoints } = await import('../../src/db/outcomes.js');
    const readline = await import('node:readline');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'outcomes-')), 'points.jsonl');
    fs.writeFileSync(file, `${JSON.stringify({ use_case: 'experience-management', metric: 'nps', ts: '2025-06-01', value: '41' })}\n{bad\n`);
    const progress: number[] = [];
    const r = await importOutcomeLines(readline.createInterface({ input: fs.createReadStream(file) }), {
      format: 'jsonl', useCases: new Set(['experience-management']), source: 'test', write: (b) => upsertOutcomePoints(h.db, b), onProgress: (p) => progress.push(p.bytes),
    });
    expect(r).toMatchObject({ inserted: 1, rejected: 1, rejects: [{ line: 2, error: 'not valid JSON' }] });
    expect(progress.at(-1)).toBe(fs.statSync(file).size);
  });
});
