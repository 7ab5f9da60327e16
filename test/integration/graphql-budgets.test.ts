import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forecastBudget, thresholdsFrom } from '../../src/analytics/forecast.js';
import { recordTierEvents } from '../../src/budgets/events.js';
import { hashApiToken } from '../../src/db/api-tokens.js';
import { listBudgetChanges } from '../../src/db/budget-changes.js';
import { usageEvent } from './fixtures/events.js';
import { startAnalytics, syntheticUsage, type AnalyticsHarness } from './fixtures/analytics.js';

const AT = '2026-11-15T00:00:00.000Z';
const NOV = '2026-11-01T00:00:00.000Z';
const DEC = '2026-12-01T00:00:00.000Z';

type Budget = {
  id: string; scope: string; scopeId: string; bu: string | null; useCase: string | null; unit: string; period: string;
  periodStart: string; limit: string | null; spent: string | null; reserved: string | null; calls: string | null; ratio: string | null; tier: string;
  forecast: { projectedSpend: string | null; projectedRatio: string | null; projectedTier: string; exhaustsAt: string | null; method: string } | null;
  events: { tier: string; ratio: string; requestId: string; deliveries: { recipient: string; status: string; attempts: number; deliveredAt: string | null; lastError: string | null }[] | null }[];
};

const BUDGET_FIELDS = `id scope scopeId bu useCase unit period periodStart limit spent reserved calls ratio tier
  forecast { projectedSpend projectedRatio projectedTier exhaustsAt method }
  events { tier ratio requestId deliveries { recipient status attempts deliveredAt lastError } }`;

let h: AnalyticsHarness;
let finance: string;
let admin: string;
let owner: string;
let council: string;

const code = (r: { body: { errors?: { extensions?: { code?: string } }[] } }) => r.body.errors?.[0]?.extensions?.code;
const list = async (token: string, args = `at: "${AT}"`) => {
  const r = await h.gql<{ budgets: Budget[] }>(token, `{ budgets(${args}) { ${BUDGET_FIELDS} } }`);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!.budgets;
};
const tokenId = async (token: string) => ((await h.db('api_tokens').where('token_hash', hashApiToken(token)).first('id')) as { id: string }).id;

beforeAll(async () => {
  h = await startAnalytics();
  // underwriting-assist (1200 USD/month) at 1000.5 in November: warning.
  await h.write([...syntheticUsage(300, 'bud'), usageEvent(0, { ts: '2026-11-10T08:00:00.000Z', bu_id: 'insurance', use_case_id: 'underwriting-assist', agent_id: 'quote-assistant', cost: '1000.500000000000' }, 'big')]);
  const uw = (await h.db('budgets').where({ scope: 'use_case', scope_id: 'underwriting-assist' }).first('id')) as { id: number };
  await h.db.transaction((trx) => recordTierEvents(trx, (['notice', 'warning'] as const).map((tier) => ({
    budget_id: Number(uw.id), period_start: NOV, key: '', tier, ratio: tier === 'notice' ? '0.51' : '0.84', spent: '1000.5', limit: '1200', unit: 'usd', request_id: 'big-0', ts: '2026-11-10T08:00:00.000Z',
  }))));
  await h.db('notification_outbox').where({ recipient: 'finance' }).update({ status: 'failed', attempts: 3, last_error: 'HTTP 500 from receiver' });
  [finance, admin, owner, council] = await Promise.all([h.token('finance'), h.token('admin'), h.token('bu-owner', 'marketing'), h.token('council')]);
});
afterAll(async () => h?.close());

async function ledgerSum(where: Record<string, string>, expr = 'cost'): Promise<{ sum: string; n: number }> {
  const row = (await h.db('usage_events').where(where).andWhere('ts', '>=', NOV).andWhere('ts', '<', DEC)
    .first(h.db.raw(`coalesce(sum(${expr}), 0)::text as sum`), h.db.raw('count(*)::int as n'))) as { sum: string; n: number };
  return row;
}
const same = (a: string | null, b: string) => expect(Number(a)).toBeCloseTo(Number(b), 9);

describe('budgets query', () => {
  it('shows each budget with the counters of its period, equal to the ledger', async () => {
    const budgets = await list(finance);
    expect(budgets.map((b) => `${b.scope}:${b.scopeId}`)).toEqual(expect.arrayContaining(['USE_CASE:trade-promo-automation', 'BU:marketing', 'SESSION:*', 'USE_CASE:inventory-management']));
    for (const b of budgets.filter((x) => x.scope !== 'SESSION')) {
      expect(b.periodStart).toBe(NOV);
      const counter = (await h.db('budget_counters').where({ budget_id: Number(b.id), period_start: NOV, key: '' }).first()) as { spent: string; reserved: string; calls: number } | undefined;
      same(b.spent, counter?.spent ?? '0');
      expect(b.calls).toBe(String(counter?.calls ?? 0));
      const where: Record<string, string> = b.scope === 'BU' ? { bu_id: b.scopeId } : { use_case_id: b.scopeId };
      const ledger = await ledgerSum(where, b.unit === 'TOKENS' ? 'input_tokens + cached_input_tokens + cache_write_tokens + output_tokens' : 'cost');
      same(b.spent, ledger.sum);
      expect(b.calls).toBe(String(ledger.n));
    }
    const session = budgets.find((b) => b.scope === 'SESSION')!;
    expect(session).toMatchObject({ spent: null, calls: null, ratio: null, tier: 'NONE', forecast: null, limit: '25.000000000000' });
  });

  it('computes ratio and tier with the policy bundle thresholds, and a forecast', async () => {
    const [uw] = await list(finance, `at: "${AT}", filter: { useCase: "underwriting-assist" }`);
    const ledger = await ledgerSum({ use_case_id: 'underwriting-assist' });
    same(uw!.spent, ledger.sum);
    expect(Number(uw!.ratio)).toBeCloseTo(Number(ledger.sum) / 1200, 6);
    expect(uw!.tier).toBe('WARNING');
    const expected = forecastBudget({ spent: uw!.spent!, limit: uw!.limit, periodStart: new Date(NOV), periodEnd: new Date(DEC), asOf: new Date(AT), thresholds: thresholdsFrom(h.app.tollgate.policy.data) });
    expect(uw!.forecast).toEqual({ ...expected, exhaustsAt: expected.exhaustsAt?.toISOString() ?? null });
    expect(uw!.forecast!.method).toBe('LINEAR');
    expect(uw!.forecast!.projectedTier).toBe('HARD_CAP');
    expect(uw!.forecast!.exhaustsAt).not.toBeNull();
  });

  it('lists the tier events of the period with their delivery state', async () => {
    const [uw] = await list(finance, `at: "${AT}", filter: { useCase: "underwriting-assist" }`);
    expect(uw!.events.map((e) => e.tier)).toEqual(['NOTICE', 'WARNING']);
    expect(uw!.events[0]!.deliveries!.map((d) => d.recipient)).toEqual(['owner']);
    const warning = uw!.events[1]!.deliveries!;
    expect(warning.map((d) => d.recipient)).toEqual(['finance', 'owner']);
    expect(warning[0]).toMatchObject({ status: 'failed', attempts: 3, lastError: 'HTTP 500 from receiver', deliveredAt: null });
    expect(warning[1]).toMatchObject({ status: 'no_target' });
    // Another month's figures have no events of November.
    const [oct] = await list(finance, 'at: "2026-10-15T00:00:00Z", filter: { useCase: "underwriting-assist" }');
    expect(oct!.events).toEqual([]);
  });
});

describe('access', () => {
  it('a BU owner reads its BU budgets only (and the global session cap), enforced in the query', async () => {
    const budgets = await list(owner);
    expect(budgets.length).toBeGreaterThan(0);
    expect(budgets.every((b) => b.bu === 'marketing' || (b.scope === 'SESSION' && b.scopeId === '*'))).toBe(true);
    expect(budgets.map((b) => b.scopeId)).toEqual(expect.arrayContaining(['trade-promo-automation', 'digital-marketing', 'marketing']));
    for (const args of ['filter: { bu: "insurance" }', 'filter: { useCase: "underwriting-assist" }']) {
      expect(code(await h.gql(owner, `{ budgets(${args}) { id } }`)), args).toBe('FORBIDDEN');
    }
    expect(code(await h.gql(owner, '{ budgetHistory(scope: USE_CASE, scopeId: "underwriting-assist") { id } }'))).toBe('FORBIDDEN');
  });

  it('the council reads use case and BU budgets without delivery state', async () => {
    const budgets = await list(council);
    expect(new Set(budgets.map((b) => b.scope))).toEqual(new Set(['USE_CASE', 'BU']));
    const uw = budgets.find((b) => b.scopeId === 'underwriting-assist')!;
    expect(uw.events.length).toBe(2);
    expect(uw.events.every((e) => e.deliveries === null)).toBe(true);
    expect(code(await h.gql(council, '{ budgets(filter: { scope: SESSION }) { id } }'))).toBe('FORBIDDEN');
  });

  it('only admin sets or extends budgets', async () => {
    for (const t of [finance, owner, council]) {
      expect(code(await h.gql(t, 'mutation { setBudget(input: { scope: USE_CASE, scopeId: "digital-marketing", limit: "1", unit: USD }) { change { id } } }'))).toBe('FORBIDDEN');
      expect(code(await h.gql(t, 'mutation { extendBudget(input: { scope: USE_CASE, scopeId: "digital-marketing", by: "1", reason: "x" }) { change { id } } }'))).toBe('FORBIDDEN');
    }
    const dm = (await h.db('budgets').where({ scope: 'use_case', scope_id: 'digital-marketing' }).first('limit_amount')) as { limit_amount: string };
    same(dm.limit_amount, '1500');
  });
});

describe('mutations', () => {
  it('setBudget creates and changes a budget with an audit row naming the token', async () => {
    const actor = `token:${await tokenId(admin)}`;
    const r = await h.gql<{ setBudget: { budget: Budget; change: { action: string; actor: string; reason: string; before: unknown; after: { limit: string; unit: string; period: string } } } }>(admin,
      `mutation { setBudget(input: { scope: AGENT, scopeId: "promo-planner", limit: "300", unit: USD, period: WEEK, reason: "pilot" }) { budget { ${BUDGET_FIELDS} } change { action actor reason before { limit } after { limit unit period } } } }`);
    expect(r.body.errors).toBeUndefined();
    const { budget, change } = r.body.data!.setBudget;
    expect(change).toEqual({ action: 'CREATE', actor, reason: 'pilot', before: null, after: { limit: '300', unit: 'USD', period: 'WEEK' } });
    expect(budget).toMatchObject({ scope: 'AGENT', scopeId: 'promo-planner', bu: 'marketing', period: 'WEEK', tier: 'OK' });
    const again = await h.gql<{ setBudget: { change: null } }>(admin, 'mutation { setBudget(input: { scope: AGENT, scopeId: "promo-planner", limit: "300", unit: USD, period: WEEK }) { change { id } } }');
    expect(again.body.data!.setBudget.change).toBeNull();
    const audit = await listBudgetChanges(h.db, { scope: 'agent', scopeId: 'promo-planner' });
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['create', actor]]);
    // The owner of marketing now sees its agent's budget.
    expect((await list(owner)).some((b) => b.scope === 'AGENT' && b.scopeId === 'promo-planner')).toBe(true);
  });

  it('extendBudget raises the limit, audited like the CLI; budgetHistory shows it', async () => {
    const r = await h.gql<{ extendBudget: { budget: { limit: string }; change: { action: string; before: { limit: string }; after: { limit: string } } } }>(admin,
      'mutation { extendBudget(input: { scope: USE_CASE, scopeId: "underwriting-assist", by: "300", reason: "quarter close" }) { budget { limit } change { action before { limit } after { limit } } } }');
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.extendBudget.change).toMatchObject({ action: 'EXTEND', before: { limit: '1200' }, after: { limit: '1500' } });
    same(r.body.data!.extendBudget.budget.limit, '1500');
    const history = await h.gql<{ budgetHistory: { action: string; actor: string; reason: string }[] }>(finance, '{ budgetHistory(scope: USE_CASE, scopeId: "underwriting-assist") { action actor reason } }');
    expect(history.body.data!.budgetHistory.at(-1)).toEqual({ action: 'EXTEND', actor: `token:${await tokenId(admin)}`, reason: 'quarter close' });
  });

  it('maps budget change errors to codes', async () => {
    const cases: [string, string, string?][] = [
      ['extendBudget(input: { scope: USE_CASE, scopeId: "nope", by: "1", reason: "x" })', 'NOT_FOUND', 'unknown_budget'],
      ['extendBudget(input: { scope: USE_CASE, scopeId: "underwriting-assist", to: "10", reason: "x" })', 'BAD_USER_INPUT', 'not_an_extension'],
      ['extendBudget(input: { scope: USE_CASE, scopeId: "underwriting-assist", by: "1", to: "2000", reason: "x" })', 'BAD_USER_INPUT', 'invalid_amount'],
      ['extendBudget(input: { scope: USE_CASE, scopeId: "underwriting-assist", by: "1", reason: "  " })', 'BAD_USER_INPUT', 'missing_reason'],
      ['extendBudget(input: { scope: USE_CASE, scopeId: "inventory-management", by: "1.5", reason: "x" })', 'BAD_USER_INPUT', 'invalid_amount'],
      ['setBudget(input: { scope: USE_CASE, scopeId: "nope", limit: "1", unit: USD })', 'BAD_USER_INPUT'],
      ['setBudget(input: { scope: USE_CASE, scopeId: "digital-marketing", limit: "1.5", unit: TOKENS })', 'BAD_USER_INPUT'],
      ['setBudget(input: { scope: USE_CASE, scopeId: "digital-marketing", unit: USD })', 'BAD_USER_INPUT'],
      ['setBudget(input: { scope: USE_CASE, scopeId: "digital-marketing", limit: "5", unit: USD, maxCalls: 3 })', 'BAD_USER_INPUT'],
    ];
    for (const [m, expected, reason] of cases) {
      const r = await h.gql(admin, `mutation { ${m} { change { id } } }`);
      expect(code(r), m).toBe(expected);
      if (reason) expect((r.body.errors?.[0]?.extensions as { reason?: string }).reason, m).toBe(reason);
    }
    expect(code(await h.gql(finance, '{ budgetHistory(scope: BU, scopeId: "nope") { id } }'))).toBe('NOT_FOUND');
  });
});
