import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/bootstrap.js';
import { writeShockMonth } from '../helpers/adjacency-month.js';
import { cliEnvironment, runCli, withCliDb } from '../helpers/cli.js';
import { TEST_DB_KIND, type TestDb } from '../helpers/db.js';

/** `tollgate adjacency run | alerts | ack | escalate | resolve`, each a process of its own. */

let dataDir: string;
let pg: TestDb | undefined;
let env: NodeJS.ProcessEnv;

const cli = (...args: string[]) => runCli(dataDir, env, args);
const withDirectDb = <T>(fn: (db: Db) => Promise<T>) => withCliDb(pg, dataDir, fn);

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-adjacency-cli-'));
  ({ env, pg } = await cliEnvironment());
  // Migrated, seeded and filled in this process: one database opening instead of a `tollgate seed` process.
  const config = loadConfig(pg ? { DATABASE_URL: pg.url } : { TOLLGATE_DATA_DIR: path.join(dataDir, '.tollgate') }, {});
  const { db, close } = await openDatabase(config);
  await writeShockMonth(db, { period: '2026-06' });
  await close();
}, 120_000);

afterAll(async () => {
  await pg?.drop().catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// Each command is a process of its own that opens the database (with PGlite, seconds; more on a busy machine).
describe(`tollgate adjacency (${TEST_DB_KIND})`, { timeout: 150_000 }, () => {
  let id: string;

  it('runs a month and prints a summary; a second run knows the alert', async () => {
    const run = await cli('adjacency', 'run', '--period', '2026-06');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^run \d+ for 2026-06: 6 nodes, \d+ edges, \d+ cross-BU communities; alerts: 1 new, 0 known\n$/);
    expect((await cli('adjacency', 'run', '--period', '2026-06')).stdout).toContain('alerts: 0 new, 1 known');
  });

  it('lists alerts by status', async () => {
    const open = await cli('adjacency', 'alerts', '--status', 'open');
    expect(open.code).toBe(0);
    const lines = open.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/open\s+2026-06\s+demand-forecasting × trade-promo-automation \(supply-chain × marketing\)/);
    expect(lines[0]).toContain('classCoupling+sharedTools+leadLag');
    expect(lines[0]).toContain('runs 2');
    expect(lines[0]).toContain('webhook no_target');
    id = lines[0]!.trim().split(/\s+/)[0]!;
  });

  it('acknowledges an alert, and refuses to acknowledge it twice', async () => {
    expect(await cli('adjacency', 'ack', id, '--note', 'on it', '--by', 'alice')).toMatchObject({ code: 0, stdout: expect.stringContaining('is now acknowledged') });
    const again = await cli('adjacency', 'ack', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is acknowledged; it cannot become acknowledged');
  });

  it('escalates it, and keeps who, when and why of every step', async () => {
    expect(await cli('adjacency', 'escalate', id, '--note', 'council please')).toMatchObject({ code: 0, stdout: expect.stringContaining('is now escalated') });
    const history = await withDirectDb((db) => db('adjacency_alert_transitions').where({ alert_id: Number(id) }).orderBy('id').select('from_status', 'to_status', 'by', 'note'));
    expect(history).toEqual([
      { from_status: null, to_status: 'open', by: expect.stringMatching(/^cli:/), note: expect.stringMatching(/^raised by run \d+$/) },
      { from_status: 'open', to_status: 'acknowledged', by: 'alice', note: 'on it' },
      { from_status: 'acknowledged', to_status: 'escalated', by: expect.stringMatching(/^cli:/), note: 'council please' },
    ]);
  });
});
