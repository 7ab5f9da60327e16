import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { insertDeadLetter } from '../../src/db/dead-letters.js';
import { sumLedger, writeBatch } from '../../src/db/ledger.js';
import { hashAgentKey } from '../../src/identity/keys.js';
import { TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { cliEnvironment, MAIN, runCli, withCliDb, type Run } from '../helpers/cli.js';
import { usageEvent } from './fixtures/events.js';

const KEY = /^tg_[A-Za-z0-9_-]{43}$/;

let dataDir: string;
let pg: TestDb | undefined;
let env: NodeJS.ProcessEnv;

const cli = (...args: string[]) => runCli(dataDir, env, args);
const withDirectDb = <T>(fn: (db: Db) => Promise<T>) => withCliDb(pg, dataDir, fn);

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-cli-'));
  ({ env, pg } = await cliEnvironment());
});

afterAll(async () => {
  if (pg) {
    await pg.drop().catch(() => undefined);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// Every command is a process of its own (~2-3 s with PGlite): generous timeouts, few commands.
describe('tollgate CLI', { timeout: 90_000 }, () => {
  it('migrates and seeds', async () => {
    const migrate = await cli('migrate');
    expect(migrate).toMatchObject({ code: 0, stderr: '' });
    expect(migrate.stdout).toContain('database is up to date');
    if (!pg) expect(migrate.stdout).toContain('applied: 001_catalog');
    expect(await cli('seed')).toMatchObject({ code: 0, stdout: 'seeded 5 agents and 27 prices\n', stderr: '' });
  });

  let first: string;
  let second: string;

  it('creates agent keys that print as the key alone and are stored hashed', async () => {
    const a = await cli('agent', 'key', 'create', '--agent', 'promo-planner');
    const b = await cli('agent', 'key', 'create', '--agent', 'promo-planner', '--label', 'second');
    for (const r of [a, b]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.endsWith('\n')).toBe(true);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stdout.trimEnd()).toMatch(KEY);
    }
    first = a.stdout.trim();
    second = b.stdout.trim();
    expect(first).not.toBe(second);
    const rows = await withDirectDb((db) => db('agent_keys').select('*').orderBy('created_at'));
    expect(rows.map((r) => r.key_hash)).toEqual([hashAgentKey(first), hashAgentKey(second)]);
    expect(JSON.stringify(rows)).not.toContain(first.slice(10));
    expect(JSON.stringify(rows)).not.toContain(second.slice(10));
  });

  it('refuses a key for an agent the catalog does not know', async () => {
    const r = await cli('agent', 'key', 'create', '--agent', 'no-such-agent');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unknown agent "no-such-agent"');
  });

  it('revokes by key and by key id, lists keys without ever printing one', async () => {
    const before = await cli('agent', 'key', 'list');
    expect(before.code).toBe(0);
    expect(before.stdout).toContain(first.slice(0, 10));
    const ids = [...before.stdout.matchAll(/key_[0-9a-f]{16}/g)].map((m) => m[0]);
    expect(ids).toHaveLength(2);

    const byKey = await cli('agent', 'key', 'revoke', first);
    expect(byKey.code).toBe(0);
    expect(byKey.stdout).toMatch(new RegExp(`^revoked ${ids[0]} \\(agent promo-planner`));
    const byId = await cli('agent', 'key', 'revoke', ids[1]!);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toContain(`revoked ${ids[1]}`);
    const again = await cli('agent', 'key', 'revoke', first);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no active key matches');
    expect(again.stderr).not.toContain(first);

    const after = await cli('agent', 'key', 'list', '--agent', 'promo-planner');
    expect(after.code).toBe(0);
    for (const out of [before.stdout, after.stdout, byKey.stdout, byId.stdout]) {
      expect(out).not.toContain(first);
      expect(out).not.toContain(second);
    }
    const timestamps = (out: string) => out.match(/\d{4}-\d\d-\d\dT[\d:.]+Z/g) ?? [];
    expect(timestamps(before.stdout)).toHaveLength(2);
    expect(timestamps(after.stdout)).toHaveLength(4);
  });

  it('sets a budget, and refuses an unknown use case, a negative or zero limit and a bad unit', async () => {
    const ok = await cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '100', '--unit', 'usd');
    expect(ok).toMatchObject({ code: 0, stdout: 'budget for trade-promo-automation: 100 usd per month\n' });
    const unknown = await cli('budget', 'set', '--use-case', 'no-such-use-case', '--limit', '100', '--unit', 'usd');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown use case "no-such-use-case"');
    // These fail on the arguments, before the database is opened, so they can run side by side.
    const [negative, zero, unit, fraction] = await Promise.all([
      cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '-5', '--unit', 'usd'),
      cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '0', '--unit', 'usd'),
      cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '100', '--unit', 'eur'),
      cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '2.5', '--unit', 'tokens'),
    ]);
    for (const r of [negative, zero]) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('must be a positive number');
    }
    expect(unit.code).not.toBe(0);
    expect(unit.stderr).toMatch(/argument 'eur' is invalid.*usd, tokens/);
    expect(fraction.code).not.toBe(0);
    expect(fraction.stderr).toContain('a token budget must be a whole number');
  });

  it('sets BU budgets and session caps with their periods, and refuses ambiguous scopes', async () => {
    const bu = await cli('budget', 'set', '--bu', 'marketing', '--limit', '4000', '--period', 'week');
    expect(bu).toMatchObject({ code: 0, stdout: 'budget for bu marketing: 4000 usd per week\n' });
    const cap = await cli('budget', 'set', '--session-cap', '*', '--max-calls', '50', '--period', 'day');
    expect(cap).toMatchObject({ code: 0, stdout: 'budget for each session of every use case: 50 calls per day\n' });
    const [two, callsOnUseCase, badPeriod] = await Promise.all([
      cli('budget', 'set', '--bu', 'marketing', '--use-case', 'trade-promo-automation', '--limit', '1'),
      cli('budget', 'set', '--use-case', 'trade-promo-automation', '--limit', '1', '--max-calls', '3'),
      cli('budget', 'set', '--bu', 'marketing', '--limit', '1', '--period', 'year'),
    ]);
    expect(two.stderr).toContain('give exactly one of --use-case, --bu, --agent, --session-cap');
    expect(callsOnUseCase.stderr).toContain('--max-calls applies to session caps only');
    expect(badPeriod.stderr).toMatch(/argument 'year' is invalid.*day, week, month, quarter/);
    for (const r of [two, callsOnUseCase, badPeriod]) expect(r.code).not.toBe(0);
    const rows = await withDirectDb((db) => db('budgets').select('*'));
    expect(rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ scope: 'bu', scope_id: 'marketing', period: 'week', unit: 'usd' }),
      expect.objectContaining({ scope: 'session', scope_id: '*', period: 'day', max_calls: 50, limit_amount: null }),
    ]));
  });

  it('reports chargeback for a month in csv, json and table, to the cent of the ledger', async () => {
    const march = Array.from({ length: 12 }, (_, i) => usageEvent(i, {
      ts: `2025-03-${String(1 + i).padStart(2, '0')}T08:00:00.000Z`,
      ...(i % 3 === 0
        ? { bu_id: 'supply-chain', use_case_id: 'demand-forecasting', agent_id: 'demand-forecaster' }
        : { bu_id: 'marketing', use_case_id: 'trade-promo-automation', agent_id: 'promo-planner' }),
    }, 'cli'));
    const april = usageEvent(99, { ts: '2025-04-01T00:00:00.000Z', bu_id: 'marketing', use_case_id: 'trade-promo-automation', cost: '5.000000000000' }, 'cli');
    const expected = await withDirectDb(async (db) => {
      await writeBatch(db, [...march, april]);
      // What the previous test set (checked here to open the database once).
      const budget = await db('budgets').where({ scope: 'use_case', scope_id: 'trade-promo-automation' }).first();
      expect(budget).toMatchObject({ unit: 'usd', period: 'month' });
      expect(Number(budget.limit_amount)).toBe(100);
      return {
        all: await sumLedger(db, { from: '2025-03-01T00:00:00Z', to: '2025-04-01T00:00:00Z' }),
        promo: await sumLedger(db, { useCaseId: 'trade-promo-automation', from: '2025-03-01T00:00:00Z', to: '2025-04-01T00:00:00Z' }),
      };
    });
    expect(expected.all.calls).toBe(12);
    const cents = (v: string | number) => Math.round(Number(v) * 100);

    const csv = await cli('report', 'chargeback', '--period', '2025-03', '--format', 'csv');
    expect(csv.code).toBe(0);
    const [header, ...lines] = csv.stdout.trimEnd().split('\n');
    expect(header).toBe('bu_id,use_case_id,calls,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost');
    expect(lines).toHaveLength(2);
    const csvRows = lines.map((l) => l.split(','));
    // Ordered by BU, then use case.
    expect(csvRows.map((r) => [r[0], r[1]])).toEqual([['marketing', 'trade-promo-automation'], ['supply-chain', 'demand-forecasting']]);
    expect(csvRows.reduce((sum, r) => sum + Number(r[2]), 0)).toBe(12);
    expect(csvRows.reduce((sum, r) => sum + cents(r[7]!), 0)).toBe(cents(expected.all.cost));

    const json = await cli('report', 'chargeback', '--period', '2025-03', '--format', 'json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { period: string; currency: string; rows: { use_case_id: string; calls: number; cost: string }[] };
    expect(report).toMatchObject({ period: '2025-03', currency: 'USD' });
    const promo = report.rows.find((r) => r.use_case_id === 'trade-promo-automation')!;
    expect(promo).toMatchObject({ calls: expected.promo.calls, cost: expected.promo.cost });
    expect(cents(report.rows.reduce((sum, r) => sum + Number(r.cost), 0))).toBe(cents(expected.all.cost));

    const table = await cli('report', 'chargeback', '--period', '2025-03');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^marketing\\s+trade-promo-automation\\s+${expected.promo.calls}\\s.*\\s${expected.promo.cost.replace('.', '\\.')}$`, 'm'));
    expect(table.stdout).not.toContain('5.000000000000');
  });

  it('refuses a period that is not YYYY-MM, and says when a month has no spend', async () => {
    // The period is checked before the database is opened, so these can run side by side.
    const [bad, month13] = await Promise.all([
      cli('report', 'chargeback', '--period', 'March'),
      cli('report', 'chargeback', '--period', '2025-13', '--format', 'csv'),
    ]);
    for (const r of [bad, month13]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/period must be YYYY-MM/);
      expect(r.stdout).toBe('');
    }
    const none = await cli('report', 'chargeback', '--period', '2001-01');
    expect(none).toMatchObject({ code: 0, stdout: 'no spend in 2001-01\n' });
  });

  // A server and six CLI processes: longer than the others on a busy machine.
  it.skipIf(TEST_DB_KIND === 'postgres')('works beside a running serve on the embedded database, through its local socket', { timeout: 240_000 }, async () => {
    const serve = spawn(process.execPath, [MAIN, 'serve'], { cwd: dataDir, env: { ...env, PORT: '0', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const ready = await waitForOutput(serve, /tollgate is ready/);
      const url = /"address":"(http:\/\/[^"]+)"/.exec(ready)![1]!;
      // Started without the flag npm start passes: serve says how to start it.
      expect(ready).toContain('"node_options":"--max-semi-space-size=64"');
      const key = await cli('agent', 'key', 'create', '--agent', 'campaign-writer');
      expect(key).toMatchObject({ code: 0, stderr: '' });
      expect(key.stdout.trim()).toMatch(KEY);
      const [list, budget, token] = [
        await cli('agent', 'key', 'list', '--agent', 'campaign-writer'),
        await cli('budget', 'set', '--use-case', 'digital-marketing', '--limit', '250'),
        await cli('token', 'create', '--role', 'finance', '--label', 'beside serve'),
      ];
      expect(list.stdout).toContain(key.stdout.slice(0, 10));
      expect(budget).toMatchObject({ code: 0, stdout: 'budget for digital-marketing: 250 usd per month\n' });
      expect(token.code).toBe(0);
      const report = await cli('report', 'chargeback', '--period', '2025-03', '--format', 'csv');
      expect(report.code).toBe(0);
      expect(report.stdout.trimEnd().split('\n')).toHaveLength(3);

      // serve sees at once what the CLI wrote: the token opens its GraphQL API, which shows the budget.
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token.stdout.trim()}` },
        body: JSON.stringify({ query: '{ budgets(filter: { useCase: "digital-marketing" }) { scope limit } }' }),
      });
      const { data } = await res.json() as { data: { budgets: { scope: string; limit: string }[] } };
      expect(data.budgets.map((b) => [b.scope, Number(b.limit)])).toEqual([['USE_CASE', 250]]);

      // A second serve on the same directory is refused, and told how to run two replicas.
      const second = await new Promise<Run>((resolve) => {
        const c = spawn(process.execPath, [MAIN, 'serve'], { cwd: dataDir, env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        c.once('exit', (code) => resolve({ code: code ?? -1, stdout: '', stderr }));
      });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`is in use by process ${serve.pid}`);
      expect(second.stderr).toContain('run each replica on a Postgres server (DATABASE_URL) with a journal of its own (TOLLGATE_JOURNAL_DIR)');
    } finally {
      serve.kill('SIGTERM');
      await new Promise((resolve) => serve.once('exit', resolve));
    }
    expect(serve.exitCode).toBe(0);
    expect(fs.readdirSync(path.join(dataDir, '.tollgate')).sort(), 'the lock and the socket went with serve').toEqual(['journal', 'pgdata']);
    // The CLI opens the database itself again.
    expect((await cli('agent', 'key', 'list')).code).toBe(0);
  });

  it('lists the usage review queue and the records Postgres refused (metering review, metering dead-letters)', async () => {
    const reviewed = usageEvent(900, {
      flags: ['over_bound'], input_tokens: 1500, output_tokens: 16,
      review: { reason: 'over_bound', reported: { input_tokens: 1e11, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 1e11 }, reported_cost: '200000.000000000000', bound: { input_tokens: 1500, output_tokens: 16 } },
    }, 'cli-review');
    await withDirectDb(async (db) => {
      await writeBatch(db, [reviewed]);
      await insertDeadLetter(db, { record: usageEvent(901, { session_id: 'a\u0000b' }, 'cli-dead'), sqlstate: '22021', error: 'invalid byte sequence for encoding "UTF8": 0x00', sanitized: true });
    });
    const review = await cli('metering', 'review', '--reason', 'over_bound', '--json');
    expect(review).toMatchObject({ code: 0, stderr: '' });
    const [row] = review.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(row).toMatchObject({ request_id: reviewed.request_id, reason: 'over_bound', reported: { input_tokens: 1e11 }, flags: ['over_bound'], bound_output_tokens: 16 });
    expect(Number(row!.reported_cost)).toBe(200_000);
    const table = await cli('metering', 'dead-letters');
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toContain('cli-dead-901');
    expect(table.stdout).toContain('22021');
    const json = await cli('metering', 'dead-letters', '--json', '--kind', 'usage');
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ request_id: 'cli-dead-901', sanitized: true, record: { session_id: 'a\u0000b' } });
    expect((await cli('metering', 'review', '--reason', 'too_much')).code).not.toBe(0);
  });
});

function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within 90 s:\n${seen}`)), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before ready:\n${seen}`)));
  });
}
