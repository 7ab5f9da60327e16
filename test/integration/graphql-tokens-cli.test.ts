import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/knex.js';
import { hashApiToken } from '../../src/db/api-tokens.js';
import type { TestDb } from '../helpers/db.js';
import { cliEnvironment, runCli, withCliDb } from '../helpers/cli.js';

const TOKEN = /^tga_[A-Za-z0-9_-]{43}$/;

let dataDir: string;
let pg: TestDb | undefined;
let env: NodeJS.ProcessEnv;

const cli = (...args: string[]) => runCli(dataDir, env, args);
const withDirectDb = <T>(fn: (db: Db) => Promise<T>) => withCliDb(pg, dataDir, fn);

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-tokens-'));
  ({ env, pg } = await cliEnvironment());
});

afterAll(async () => {
  await pg?.drop().catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// Every command is a process of its own (~2-3 s with PGlite): few commands, generous timeouts.
describe('tollgate token', { timeout: 90_000 }, () => {
  let owner: string;

  it('creates tokens that print alone, stored hashed, and refuses a bu-owner without a known BU', async () => {
    const a = await cli('token', 'create', '--role', 'bu-owner', '--bu', 'marketing', '--label', 'marketing lead');
    expect(a).toMatchObject({ code: 0, stderr: '' });
    expect(a.stdout).toMatch(/^tga_[A-Za-z0-9_-]{43}\n$/);
    owner = a.stdout.trim();
    expect(owner).toMatch(TOKEN);
    const bad = await cli('token', 'create', '--role', 'bu-owner');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('needs --bu');
    const rows = await withDirectDb((db) => db('api_tokens').select('*'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ token_hash: hashApiToken(owner), role: 'bu-owner', bu_id: 'marketing', label: 'marketing lead', revoked_at: null });
    expect(JSON.stringify(rows)).not.toContain(owner.slice(12));
  });

  it('lets the token read GraphQL, then list and revoke it by token', async () => {
    const config = loadConfig({ ...(pg ? { DATABASE_URL: pg.url } : { TOLLGATE_PGLITE_DIR: path.join(dataDir, '.tollgate/pgdata') }), TOLLGATE_DATA_DIR: path.join(dataDir, 'serve'), TOLLGATE_ROLE: 'analytics', TOLLGATE_POLICY_WATCH: false });
    const app = await buildApp(config, false);
    try {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${owner}` }, payload: { query: '{ viewer { role bu } }' } });
      expect(res.json()).toEqual({ data: { viewer: { role: 'BU_OWNER', bu: 'marketing' } } });
    } finally {
      await app.close();
    }
    const list = await cli('token', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(owner.slice(0, 12));
    expect(list.stdout).not.toContain(owner);
    const revoked = await cli('token', 'revoke', owner);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked tok_[0-9a-f]{16} \(bu-owner of marketing/);
    const again = await cli('token', 'revoke', owner);
    expect(again.code).toBe(1);
    expect(again.stderr).not.toContain(owner);
  });
});
