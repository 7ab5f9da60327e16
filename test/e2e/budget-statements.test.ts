import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setBudget, startGateway, tagHeaders, PROMO, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import type { BudgetStatementKind } from '../../src/budgets/gate.js';
import { TEST_DB_KIND } from '../helpers/db.js';

/**
 * The hot-path issue's "in steady state no per-call budget statement reaches Postgres": with budget leases on,
 * calls within a replica's leases are admitted in memory; the gate counts every statement it sends
 * (tollgate_budget_statements_total{kind}), and the per-call kinds (reserve, shrink, release) stay at zero until
 * a budget nears its cap, where each call reserves exactly again.
 */

const BODY = (n: number) => JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: `steady state call ${n}` }] });

let gw: Gateway;
let agentKeys: Map<string, string>;
let metricsToken: string;
let adminToken: string;

beforeAll(async () => {
  gw = await startGateway({ TOLLGATE_BUDGET_LEASE_MS: 1000 });
  agentKeys = new Map([[WRITER.agent_id, await gw.key(WRITER.agent_id)], [PROMO.agent_id, await gw.key(PROMO.agent_id)]]);
  const t = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'metrics', label: 'budget-statements test' });
  metricsToken = t.token;
  const a = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: a.id, hash: a.hash, prefix: a.prefix, role: 'admin', label: 'budget-statements test' });
  adminToken = a.token;
}, 120_000);
afterAll(async () => gw?.close());

async function calls(tags: Tags, n: number, concurrency: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < n; i = next++) {
      const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${agentKeys.get(tags.agent_id)!}`, ...tagHeaders(tags) },
        body: BODY(i),
      });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  }));
  return statuses;
}

const snapshot = () => ({ ...gw.app.tollgate.budgetGate.statements });
const delta = (a: Record<BudgetStatementKind, number>, b: Record<BudgetStatementKind, number>, k: BudgetStatementKind) => b[k] - a[k];

async function scraped(): Promise<Record<string, number>> {
  const res = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^tollgate_budget_statements_total\{kind="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('budget statements per call', () => {
  it('admits calls within a replica\'s leases without a per-call statement, in one session and across new ones', async () => {
    // The first call takes the leases of its use case, BU and session (one acquire).
    expect(await calls(WRITER, 1, 1)).toEqual(new Map([[200, 1]]));
    const before = snapshot();
    expect(before.acquire).toBeGreaterThanOrEqual(1);

    expect(await calls(WRITER, 120, 4)).toEqual(new Map([[200, 120]]));
    const after = snapshot();
    // None on a quiet machine. On a loaded one a call can find its lease dry before a settlement tops it up, and
    // reserves exactly (the safe path, one statement): 1 and 4 calls of 120 in two CI runs. The lease slices'
    // sizing under bursts is open work (the hot-path issue); past 5% of calls this is no steady state.
    expect(delta(before, after, 'reserve'), 'reserve').toBeLessThanOrEqual(6);
    // An exact reservation's own statements (a shrink, a release) come only with it.
    expect(delta(before, after, 'shrink') + delta(before, after, 'release'), 'shrink and release').toBeLessThanOrEqual(2 * delta(before, after, 'reserve'));
    // Leases top up in the background (settle) or, when one runs dry before that, with one acquire or settlement:
    // far fewer than calls (13 of 120 in a CI run under load, where a quiet machine needs a few).
    expect(delta(before, after, 'acquire') + delta(before, after, 'settle')).toBeLessThan(120 / 5);

    // A new session is a new session-cap lease: one acquire for its first call, none for the rest.
    const s2 = snapshot();
    expect(await calls({ ...WRITER, session_id: 'sess-writer-2' }, 30, 1)).toEqual(new Map([[200, 30]]));
    const s3 = snapshot();
    for (const k of ['reserve', 'shrink', 'release'] as const) expect(delta(s2, s3, k), k).toBe(0);
    expect(delta(s2, s3, 'acquire')).toBeLessThanOrEqual(3);

    if (TEST_DB_KIND === 'postgres') {
      // The ledger writer holds the use case's counter row while its transaction is open: a new session's first
      // call asks for the session's lease alone, and does not wait for that row.
      const { db } = gw.app.tollgate;
      const budget = (await db('budgets').where({ scope: 'use_case', scope_id: WRITER.use_case }).first('id')) as { id: number };
      const writer = await db.transaction();
      try {
        await writer.raw('select 1 from budget_counters where budget_id = ? for update', [budget.id]);
        const waited = new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 5000).unref());
        expect(await Promise.race([calls({ ...WRITER, session_id: 'sess-writer-3' }, 1, 1), waited])).toEqual(new Map([[200, 1]]));
      } finally {
        await writer.rollback();
      }
    }
  }, 120_000);

  it('reserves each call exactly near a cap, and counts it', async () => {
    // A hard cap of $0.00088: under four slices of eight calls of ~$0.00003 (the leases' headroom), so no lease is granted.
    await setBudget(gw, { scope: 'use_case', scopeId: PROMO.use_case, limit: '0.0008', unit: 'usd', period: 'month' });
    const before = snapshot();
    const statuses = await calls(PROMO, 10, 1);
    const after = snapshot();
    expect(statuses.get(200)).toBe(10);
    expect(delta(before, after, 'reserve')).toBe(10);
  }, 60_000);

  it('exposes the counts on /metrics by kind', async () => {
    const counts = snapshot();
    const metric = await scraped();
    expect(Object.keys(metric).sort()).toEqual(['acquire', 'release', 'reserve', 'settle', 'shrink', 'sweep']);
    // Only background sweeps and settlements may run between the two readings.
    for (const k of ['reserve', 'shrink', 'release', 'acquire'] as const) expect(metric[k], k).toBe(counts[k]);
    expect(metric.acquire).toBeGreaterThan(0);
    expect(metric.reserve).toBeGreaterThanOrEqual(10);
  }, 30_000);

  it('applies a budget set through GraphQL before the mutation answers, without waiting for the notification', async () => {
    const gate = gw.app.tollgate.budgetGate;
    // No notification can arrive: only the mutation itself can make this replica read the budgets again.
    await (gate as unknown as { unlisten?: () => Promise<void> }).unlisten?.();
    const before = gate.budgetsVersion;
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ query: `mutation { setBudget(input: { scope: USE_CASE, scopeId: "${WRITER.use_case}", limit: "1400", unit: USD, reason: "test" }) { budget { limit } } }` }),
    });
    const body = (await res.json()) as { data?: { setBudget: { budget: { limit: string } } }; errors?: unknown[] };
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(Number(body.data!.setBudget.budget.limit)).toBe(1400);
    expect(gate.budgetsVersion).toBeGreaterThan(before);
  }, 30_000);
});
