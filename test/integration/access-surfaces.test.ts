import fs from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { API_ROLES, type ApiRole } from '../../src/db/api-tokens.js';
import { writeBatch } from '../../src/db/ledger.js';
import { ACCESS_RULES } from '../../src/graphql/access.js';
import { SCHEMA_PATH } from '../../src/graphql/plugin.js';
import type { TierRecord } from '../../src/metering/types.js';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';
import { decisionRecord, usageEvent } from './fixtures/events.js';

/**
 * Issue 16, item 10: the FOCUS export gave the council agents and models that GraphQL refuses it. Every
 * surface (GraphQL queries and subscriptions, the JSON, CSV and FOCUS reports, the outcomes route, /metrics)
 * is read here with a token of every role, and nothing the role's rule (ACCESS_RULES) withholds may come
 * out: each BU's data carries markers (agent, model, session, request ids) that the rule decides on.
 */

const { buildSchema, parse, Kind } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const PERIOD = '2026-11';
const BUS = [
  { bu: 'marketing', useCase: 'digital-marketing', agent: 'campaign-writer' },
  { bu: 'supply-chain', useCase: 'demand-forecasting', agent: 'demand-forecaster' },
  { bu: 'insurance', useCase: 'underwriting-assist', agent: 'quote-assistant' },
].map((b) => ({ ...b, model: `secret-model-of-${b.bu}`, session: `secret-session-of-${b.bu}`, call: `secret-call-of-${b.bu}`, denial: `secret-denial-of-${b.bu}` }));
type Bu = (typeof BUS)[number];

/** The markers a role may not see, from its rule alone (a BU owner's: marketing). */
function withheld(role: ApiRole): string[] {
  const rule = ACCESS_RULES[role];
  return BUS.flatMap((b: Bu) => {
    const otherBu = rule.scope === 'own-bu' && b.bu !== 'marketing';
    const out: string[] = [];
    if (otherBu || !rule.can.includes('catalog')) out.push(b.bu, b.useCase);
    if (otherBu || !rule.can.includes('agents') || !rule.dimensions.includes('AGENT')) out.push(b.agent, b.session);
    if (otherBu || !rule.dimensions.includes('MODEL')) out.push(b.model);
    if (otherBu || !rule.can.includes('decisions')) out.push(b.denial);
    if (otherBu || !rule.can.includes('chargeback')) out.push(b.call);
    return out;
  });
}

// One query per root field of the schema (the test checks that none is missing).
const QUERIES = [
  '{ viewer { role bu } }',
  '{ businessUnits { id name useCases { id bu { id } } } }',
  '{ useCases { id bu { id } } }',
  '{ agents { id bu { id } } }',
  '{ models { id provider } }',
  `{ chargeback(period: "${PERIOD}", groupBy: [BU, USE_CASE, AGENT, MODEL, PROVIDER, DAY]) { rows { key { bu useCase agent model provider day } agent { id } useCase { id } businessUnit { id } } } }`,
  `{ chargeback(period: "${PERIOD}", groupBy: [BU, USE_CASE, DAY]) { rows { key { bu useCase day } agent { id } useCase { id } } denied { byCode { code calls } } } }`,
  '{ decisions(first: 100) { nodes { requestId buId useCaseId agentId sessionId model message bu { id } useCase { id } agent { id } } } }',
  `{ costPerOutcomes(period: "${PERIOD}") { useCase bu cost } }`,
  ...BUS.map((b) => `{ costPerOutcome(useCase: "${b.useCase}", period: "${PERIOD}") { useCase bu cost } }`),
  ...BUS.map((b) => `{ session(id: "${b.session}") { id agents businessUnits useCases calls { requestId agentId model buId } } }`),
  `{ topSessions(period: "${PERIOD}", limit: 100) { id calls agents } }`,
  `{ budgets(at: "2026-11-15T00:00:00Z") { scope scopeId bu useCase events { requestId deliveries { recipient } } } }`,
  ...BUS.map((b) => `{ budgetHistory(scope: USE_CASE, scopeId: "${b.useCase}") { actor reason } }`),
  `{ adjacency(period: "${PERIOD}") { nodes { id bu useCase { id } } edges { source target evidence } communities { useCases } } }`,
  '{ adjacencyAlerts { id pair evidence sides { useCase bu } history { by } } }',
  '{ adjacencyAlert(id: "1") { id evidence } }',
  '{ prices { model provider serviceTier inputPerMTok } }',
  '{ priceHistory(model: "gpt-4.1-mini") { model effectiveFrom outputPerMTok } }',
  `{ usageReview(first: 100) { requestId buId useCaseId agentId model reported } }`,
  `{ downgrades(period: "${PERIOD}") { rows { bu useCase modelRequested modelServed calls billed saved } calls saved } }`,
  `{ shadowSpend(period: "${PERIOD}") { rows { key { day model } reported metered bypass } totals { reported metered } } }`,
];

let h: AnalyticsHarness;
let wsUrl: string;
const tokens = new Map<ApiRole, string>();

beforeAll(async () => {
  h = await startAnalytics();
  wsUrl = `${(await h.app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws')}/graphql`;
  await h.write(BUS.flatMap((b, k) => [
    usageEvent(k, { ts: '2026-11-10T10:00:00.000Z', request_id: b.call, bu_id: b.bu, use_case_id: b.useCase, agent_id: b.agent, session_id: b.session, model_requested: b.model, model_served: b.model }, 'x'),
    decisionRecord(k, { ts: '2026-11-10T11:00:00.000Z', request_id: b.denial, bu_id: b.bu, use_case_id: b.useCase, agent_id: b.agent, session_id: b.session, model: b.model }, 'x'),
  ]));
  for (const role of API_ROLES) tokens.set(role, await h.token(role, role === 'bu-owner' ? 'marketing' : undefined));
});
afterAll(async () => h?.close());

/** The markers of `text` a role may not see, except those its own request named. */
function leaks(role: ApiRole, text: string, asked = ''): string[] {
  return withheld(role).filter((m) => !asked.includes(m) && text.includes(m));
}

async function readEverything(role: ApiRole): Promise<{ surface: string; text: string; asked?: string }[]> {
  const token = tokens.get(role)!;
  const out: { surface: string; text: string; asked?: string }[] = [];
  for (const q of QUERIES) out.push({ surface: `graphql ${q.slice(0, 40)}`, text: JSON.stringify((await h.gql(token, q)).body), asked: q });
  for (const format of ['json', 'csv', 'focus']) {
    const res = await h.app.inject({ method: 'GET', url: `/v1/reports/chargeback?period=${PERIOD}&format=${format}`, headers: { authorization: `Bearer ${token}` } });
    out.push({ surface: `report ${format}`, text: res.body });
  }
  const lines = BUS.map((b) => ({ use_case: b.useCase, metric: 'probe', ts: '2026-11-01', value: 1 }));
  const outcomes = await h.app.inject({ method: 'POST', url: '/v1/outcomes', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: lines });
  out.push({ surface: 'outcomes', text: outcomes.body, asked: JSON.stringify(lines) });
  const metrics = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
  out.push({ surface: 'metrics', text: metrics.body });
  out.push({ surface: 'subscription', text: await tierEventsSeenBy(token, role) });
  return out;
}

describe('every surface, every role', () => {
  it('queries every root field of the schema', () => {
    const schema = buildSchema(fs.readFileSync(SCHEMA_PATH, 'utf8'));
    const asked = new Set(QUERIES.flatMap((q) => parse(q).definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION ? d.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '')) : []))));
    expect([...Object.keys(schema.getQueryType()!.getFields())].filter((f) => !asked.has(f))).toEqual([]);
  });

  it.each([...API_ROLES])('lets nothing out that the %s role may not see', async (role) => {
    const read = await readEverything(role);
    const found = read.flatMap((r) => leaks(role, r.text, r.asked).map((m) => `${r.surface}: ${m}`));
    expect(found).toEqual([]);
  });

  it('is a test that can fail: finance sees every marker somewhere', async () => {
    const all = (await readEverything('finance')).map((r) => r.text).join('\n');
    const markers = BUS.flatMap((b) => [b.bu, b.useCase, b.agent, b.session, b.model, b.denial, b.call]);
    expect(markers.filter((m) => !all.includes(m))).toEqual([]);
    expect(withheld('finance')).toEqual([]);
    expect(withheld('council')).toEqual(expect.arrayContaining(BUS.flatMap((b) => [b.agent, b.model, b.session, b.denial])));
  });

  it('refuses the council the FOCUS file, and writes outcomes only where the rule allows', async () => {
    const focus = await h.app.inject({ method: 'GET', url: `/v1/reports/chargeback?period=${PERIOD}&format=focus`, headers: { authorization: `Bearer ${tokens.get('council')}` } });
    expect(focus.statusCode).toBe(403);
    expect(focus.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const written = (await h.db('outcome_points').where({ metric: 'probe' }).select('use_case_id')).map((r: { use_case_id: string }) => r.use_case_id);
    expect(new Set(written)).toEqual(new Set(BUS.map((b) => b.useCase)));
  });
});

/** Tier events of every BU's budget, as `token` receives them over a WebSocket subscription. */
async function tierEventsSeenBy(token: string, role: ApiRole): Promise<string> {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  const messages: string[] = [];
  ws.on('message', (raw) => messages.push(String(raw)));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await until(() => messages.length > 0);
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { budgetTierEvents { budgetId requestId deliveries { recipient } } }' } }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  // A period of its own per role: a tier is recorded, and announced, once per budget and period.
  const records: TierRecord[] = [];
  for (const b of BUS) {
    const budget = (await h.db('budgets').where({ scope: 'use_case', scope_id: b.useCase }).first('id')) as { id: number };
    records.push({ kind: 'tier', budget_id: Number(budget.id), period_start: `${2020 + API_ROLES.indexOf(role)}-11-01T00:00:00.000Z`, key: '', tier: 'notice', ratio: 0.6, spent: 60, limit: 100, unit: 'usd', request_id: b.call, ts: '2026-11-10T10:00:00.000Z' });
  }
  await writeBatch(h.db, records);
  const expected = ACCESS_RULES[role].can.includes('budgets') ? (ACCESS_RULES[role].scope === 'own-bu' ? 1 : BUS.length) : 0;
  await until(() => messages.filter((m) => m.includes('"next"')).length >= expected || messages.some((m) => m.includes('"error"')));
  await new Promise((resolve) => setTimeout(resolve, 200));
  ws.close();
  return messages.join('\n');
}

async function until(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
}
