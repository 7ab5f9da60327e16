import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/catalog/seed.js';
import { BudgetChangeError, extendBudget, listBudgetChanges, setBudgetAudited, type ExtendInput } from '../../src/db/budget-changes.js';
import type { Db } from '../../src/db/knex.js';
import { cliEnvironment, runCli } from '../helpers/cli.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';

const PROMO = { scope: 'use_case', scopeId: 'trade-promo-automation' } as const;

let t: TestDb;
let db: Db;

async function limitOf(scopeId: string): Promise<string> {
  const row = (await db('budgets').where({ scope_id: scopeId }).first(db.raw('limit_amount::text as l'))) as { l: string };
  return row.l;
}

async function rejection(input: ExtendInput): Promise<BudgetChangeError> {
  const err = await extendBudget(db, input).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(BudgetChangeError);
  return err as BudgetChangeError;
}

beforeAll(async () => {
  t = await createTestDb();
  db = t.db;
  await seedDemo(db, { budgets: false });
});

afterAll(async () => {
  await t.drop();
});

beforeEach(async () => {
  await db('budget_changes').delete();
  await setBudgetAudited(db, { ...PROMO, limit: '2500', unit: 'usd', period: 'month', actor: 'setup' });
  await db('budget_changes').delete();
});

describe(`budget extensions (${TEST_DB_KIND})`, () => {
  it('extends by an amount, exactly, and audits who, why, before and after', async () => {
    const r = await extendBudget(db, { ...PROMO, by: '250.000000000001', reason: 'promo week', actor: 'alice' });
    expect(r.before?.limit_amount).toBe('2500');
    expect(r.after.limit_amount).toBe('2750.000000000001');
    expect(await limitOf('trade-promo-automation')).toBe('2750.000000000001');
    const [change, ...rest] = await listBudgetChanges(db, PROMO);
    expect(rest).toEqual([]);
    expect(change).toMatchObject({
      action: 'extend', actor: 'alice', reason: 'promo week', budget_id: r.after.id,
      before: { scope: 'use_case', scope_id: 'trade-promo-automation', limit_amount: '2500', unit: 'usd', currency: 'USD', period: 'month' },
      after: { limit_amount: '2750.000000000001', unit: 'usd' },
    });
    expect(change!.created_at).toBeInstanceOf(Date);
  });

  it('extends to an amount, by budget id too', async () => {
    const { id } = (await db('budgets').where({ scope: PROMO.scope, scope_id: PROMO.scopeId }).first('id')) as { id: number };
    const r = await extendBudget(db, { budgetId: id, to: '4000', reason: 'Q2 launch', actor: 'bob' });
    expect([r.before?.limit_amount, r.after.limit_amount]).toEqual(['2500', '4000']);
    expect(await limitOf('trade-promo-automation')).toBe('4000.000000000000');
  });

  it('serializes concurrent extensions: all count, and each audit row starts where the previous ended', async () => {
    await Promise.all(Array.from({ length: 6 }, (_, i) => extendBudget(db, { ...PROMO, by: '100', reason: `r${i}`, actor: `a${i}` })));
    expect(await limitOf('trade-promo-automation')).toBe('3100.000000000000');
    const changes = await listBudgetChanges(db, PROMO);
    expect(changes.map((c) => [c.before?.limit_amount, c.after.limit_amount])).toEqual(
      [2500, 2600, 2700, 2800, 2900, 3000].map((n) => [String(n), String(n + 100)]));
  });

  it('refuses what is not an extension, and changes nothing then', async () => {
    expect((await rejection({ ...PROMO, to: '2500', reason: 'x', actor: 'a' })).code).toBe('not_an_extension');
    expect((await rejection({ ...PROMO, to: '1000', reason: 'x', actor: 'a' })).message).toMatch(/not above the current limit 2500/);
    expect((await rejection({ ...PROMO, reason: 'x', actor: 'a' })).message).toMatch(/exactly one of --by .* or --to/);
    expect((await rejection({ ...PROMO, by: '1', to: '9000', reason: 'x', actor: 'a' })).code).toBe('invalid_amount');
    for (const bad of ['0', '0.000', '-5', 'abc', '1e3', '']) {
      expect((await rejection({ ...PROMO, by: bad, reason: 'x', actor: 'a' })).code).toBe('invalid_amount');
    }
    expect((await rejection({ ...PROMO, by: '5', reason: '  ', actor: 'a' })).code).toBe('missing_reason');
    expect((await rejection({ ...PROMO, by: '5', reason: 'x', actor: '' })).code).toBe('missing_actor');
    const unknown = await rejection({ scope: 'use_case', scopeId: 'no-such-use-case', by: '5', reason: 'x', actor: 'a' });
    expect([unknown.code, unknown.message]).toEqual(['unknown_budget', 'no budget for use case "no-such-use-case"']);
    expect((await rejection({ budgetId: 987654, by: '5', reason: 'x', actor: 'a' })).code).toBe('unknown_budget');
    expect(await limitOf('trade-promo-automation')).toBe('2500.000000000000');
    expect(await listBudgetChanges(db, PROMO)).toEqual([]);
  });

  it('keeps token budgets whole and extends BU and agent budgets alike', async () => {
    const tokens = { scope: 'use_case', scopeId: 'inventory-management' } as const;
    await setBudgetAudited(db, { ...tokens, limit: '50000000', unit: 'tokens', period: 'month', actor: 't' });
    expect((await rejection({ ...tokens, by: '1.5', reason: 'x', actor: 'a' })).code).toBe('invalid_amount');
    expect((await extendBudget(db, { ...tokens, by: '1000000', reason: 'x', actor: 'a' })).after.limit_amount).toBe('51000000');
    await setBudgetAudited(db, { scope: 'bu', scopeId: 'marketing', limit: '9000', unit: 'usd', period: 'quarter', actor: 't' });
    expect((await extendBudget(db, { scope: 'bu', scopeId: 'marketing', to: '9500.5', reason: 'x', actor: 'a' })).after).toMatchObject({ scope: 'bu', limit_amount: '9500.5', period: 'quarter' });
  });
});

describe(`audited budget set (${TEST_DB_KIND})`, () => {
  it('records a create with no before, a change with both, and nothing for a no-op', async () => {
    const ref = { scope: 'agent', scopeId: 'promo-planner' } as const;
    const created = await setBudgetAudited(db, { ...ref, limit: '100', unit: 'usd', period: 'day', actor: 'carol', reason: 'cap the planner' });
    expect([created.action, created.before]).toEqual(['create', null]);
    const same = await setBudgetAudited(db, { ...ref, limit: '100.000', unit: 'usd', period: 'day', actor: 'carol' });
    expect([same.action, same.change]).toEqual([null, null]);
    const lowered = await setBudgetAudited(db, { ...ref, limit: '80', unit: 'usd', period: 'week', actor: 'dave' });
    expect(lowered.action).toBe('set');
    const changes = await listBudgetChanges(db, ref);
    expect(changes.map((c) => [c.action, c.actor, c.reason, c.before?.limit_amount ?? null, c.before?.period ?? null, c.after.limit_amount, c.after.period])).toEqual([
      ['create', 'carol', 'cap the planner', null, null, '100', 'day'],
      ['set', 'dave', null, '100', 'day', '80', 'week'],
    ]);
  });
});

// The CLI, each command a process of its own (as tollgate is run).

describe(`tollgate budget extend / history (${TEST_DB_KIND})`, { timeout: 120_000 }, () => {
  let dir: string;
  let pg: TestDb | undefined;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => runCli(dir, env, args);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-extend-'));
    ({ env, pg } = await cliEnvironment());
  });

  afterAll(async () => {
    await pg?.drop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sets, extends and prints the history with who and why', async () => {
    // The first command seeds the demo catalog and its budgets (2500 USD a month for this use case).
    const set = await cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '2600', '--unit', 'usd', '--reason', 'initial', '--actor', 'alice');
    expect(set).toMatchObject({ code: 0, stderr: '' });
    const ext = await cli('budget', 'extend', '--use-case', 'trade-promo-automation', '--by', '400.5', '--reason', 'promo week');
    expect(ext.stderr).toBe('');
    expect(ext.stdout).toContain('budget for use case trade-promo-automation: 2600 → 3000.5 usd per month');
    expect(ext.stdout).toContain(`by ${os.userInfo().username})`);
    const hist = await cli('budget', 'history', '--use-case', 'trade-promo-automation');
    const lines = hist.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}set {5}alice {2}2500 usd\/month → 2600 usd\/month — initial$/);
    expect(lines[1]).toContain(`extend  ${os.userInfo().username}  2600 usd/month → 3000.5 usd/month — promo week`);
  });

  it('explains what is wrong', async () => {
    // Only the first opens the database (one process at a time on PGlite): the others fail before they would.
    const runs = await Promise.all([
      cli('budget', 'extend', '--use-case', 'nope', '--by', '5', '--reason', 'x'),
      cli('budget', 'extend', '--use-case', 'trade-promo-automation', '--by', '5', '--to', '9000', '--reason', 'x'),
      cli('budget', 'extend', '--use-case', 'trade-promo-automation', '--by', '0', '--reason', 'x'),
      cli('budget', 'extend', '--use-case', 'trade-promo-automation', '--by', '5'),
      cli('budget', 'extend', '--by', '5', '--reason', 'x'),
    ]);
    for (const r of runs) expect(r.code).not.toBe(0);
    expect(runs[0]!.stderr).toContain('no budget for use case "nope"');
    expect(runs[1]!.stderr).toContain('give exactly one of --by N (an increase) or --to N (the new limit)');
    expect(runs[2]!.stderr).toContain('must be a positive number');
    expect(runs[3]!.stderr).toContain("required option '--reason <text>' not specified");
    expect(runs[4]!.stderr).toContain('name exactly one budget: --use-case ID, --bu ID or --agent ID');
  });
});
