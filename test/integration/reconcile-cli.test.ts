import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/bootstrap.js';
import type { FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { anthropicReports } from '../../src/reconcile/anthropic.js';
import { cliEnvironment, runCli, withCliDb } from '../helpers/cli.js';
import { TEST_DB_KIND, type TestDb } from '../helpers/db.js';
import { ANTHROPIC_ADMIN, BYPASS_CALLS, costOf, meterTollgateCalls, reconcileEnv, startReports, TOLLGATE_CALLS } from '../helpers/reconcile.js';

/** `tollgate reconcile run | import | report`, each a process of its own, against the fake report APIs. */

let dataDir: string;
let pg: TestDb | undefined;
let env: NodeJS.ProcessEnv;
let reports: FakeReports;

const cli = (...args: string[]) => runCli(dataDir, env, args);

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-reconcile-cli-'));
  reports = await startReports();
  reports.add([...TOLLGATE_CALLS, ...BYPASS_CALLS]);
  const base = await cliEnvironment();
  pg = base.pg;
  env = { ...base.env, ...reconcileEnv(reports) };
  // Migrated, seeded and metered in this process: one database opening instead of more CLI processes.
  const config = loadConfig(pg ? { DATABASE_URL: pg.url } : { TOLLGATE_DATA_DIR: path.join(dataDir, '.tollgate') }, {});
  const { db, close } = await openDatabase(config);
  await meterTollgateCalls(db);
  await close();
}, 120_000);

afterAll(async () => {
  await reports?.close();
  await pg?.drop().catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The Anthropic report API's pages for June 1–4, as a file of JSON lines (usage and cost pages mixed). */
async function savedPages(): Promise<string> {
  const range = { from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-06-05T00:00:00Z') };
  const lines: string[] = [];
  for (const kind of ['usage', 'cost'] as const) {
    const res = await fetch(`${reports.url}${anthropicReports.paths[kind]}?${anthropicReports.query(kind, range, 31, null)}`, { headers: anthropicReports.headers(ANTHROPIC_ADMIN) });
    lines.push((await res.text()).replace(/\n/g, ''));
  }
  const file = path.join(dataDir, 'anthropic-pages.jsonl');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe(`tollgate reconcile (${TEST_DB_KIND})`, { timeout: 150_000 }, () => {
  it('runs a range of days (to inclusive) and reports the bypass per day and key', async () => {
    const run = await cli('reconcile', 'run', '--provider', 'openai', '--from', '2026-06-01', '--to', '2026-06-04');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^run \d+: openai 2026-06-01 … 2026-06-04: 2 pages, 4 days, 4 rows; 0 new notices to finance\n$/);

    const report = await cli('reconcile', 'report', '--provider', 'openai', '--period', '2026-06', '--by', 'day,key');
    expect(report.code).toBe(0);
    const lines = report.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/));
    expect(lines[0]).toEqual(['day', 'key', 'tollgate', 'reported', 'metered', 'difference', 'bypass', 'metering_gap']);
    const laptop = costOf(BYPASS_CALLS.filter((c) => c.provider === 'openai'));
    expect(lines).toContainEqual(['2026-06-02', 'key_laptop', 'no', laptop, '0.000000000000', laptop, laptop, '0.000000000000']);
    expect(lines).toContainEqual(['2026-06-03', 'key_tollgate', 'yes', costOf([TOLLGATE_CALLS[1]!]), costOf([TOLLGATE_CALLS[1]!]), '0.000000000000', '0.000000000000', '0.000000000000']);
    expect(lines.at(-1)).toEqual(['4 provider-days covered; amounts in USD']);
  });

  it("imports the report API's pages from a file and compares them like a run's", async () => {
    const imported = await cli('reconcile', 'import', '--provider', 'anthropic', '--file', await savedPages());
    expect(imported).toMatchObject({ code: 0, stderr: '' });
    expect(imported.stdout).toMatch(/: anthropic 2026-06-01 … 2026-06-04: 2 pages, 4 days, 3 rows;/);
    const rows = await withCliDb(pg, dataDir, (db) => db('shadow_report_rows').where({ provider: 'anthropic' }).orderBy(['day', 'api_key_id']).select('day', 'api_key_id', db.raw('cost::text as cost')));
    expect(rows.map((r: { api_key_id: string; cost: string }) => [r.api_key_id, r.cost])).toEqual([
      ['apikey_01Laptop', costOf([BYPASS_CALLS[2]!])], ['apikey_01Tollgate', costOf([TOLLGATE_CALLS[2]!])], ['apikey_01Tollgate', costOf([TOLLGATE_CALLS[3]!])],
    ]);
    const runs = await withCliDb(pg, dataDir, (db) => db('reconcile_runs').where({ provider: 'anthropic' }).select('source', 'status'));
    expect(runs).toEqual([{ source: 'file', status: 'done' }]);
  });

  it('refuses an unknown provider and a range that ends before it starts', async () => {
    const provider = await cli('reconcile', 'run', '--provider', 'azure', '--from', '2026-06-01', '--to', '2026-06-02');
    expect(provider.code).toBe(1);
    expect(provider.stderr).toContain("argument 'azure' is invalid");
    const backwards = await cli('reconcile', 'run', '--provider', 'openai', '--from', '2026-06-04', '--to', '2026-06-01');
    expect(backwards.code).toBe(1);
    expect(backwards.stderr).toContain('--to must not be before --from');
  });
});
