import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedDemo } from '../../src/catalog/seed.js';
import { insertAgentKey } from '../../src/db/agent-keys.js';
import { generateApiToken, insertApiToken, type ApiRole } from '../../src/db/api-tokens.js';
import { createDb, migrateLatest, type Db } from '../../src/db/knex.js';
import { localSocketDir } from '../../src/db/local-socket.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/demo/fake-upstream.js';
import { generateAgentKey } from '../../src/identity/keys.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from './db.js';
import { UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY } from './gateway.js';
import { startTollgateProcess, type TollgateProcess } from './tollgate-process.js';

/**
 * `tollgate serve` as a process of its own (an uncaught exception ends it, as in production, where the test
 * runner would catch it), on the demo catalog, in front of a fake upstream, with its database open to the test
 * while it runs: the Postgres database itself, or the embedded one through serve's local socket.
 */
export type ServedProcess = {
  proc: TollgateProcess;
  upstream: FakeUpstream;
  /** The process's database (on PGlite: one session through its socket, taken in turns with serve). */
  db: Db;
  key(agentId: string): Promise<string>;
  apiToken(role: ApiRole): Promise<string>;
  /** Whether the process is still running (it has not exited since it started). */
  alive(): boolean;
  close(): Promise<void>;
};

export async function startServedProcess(name: string, env: Record<string, string> = {}): Promise<ServedProcess> {
  const upstream = await startFakeUpstream({ openaiKey: UPSTREAM_OPENAI_KEY, anthropicKey: UPSTREAM_ANTHROPIC_KEY });
  let pg: TestDb | undefined;
  let pgliteDir: string | undefined;
  if (TEST_DB_KIND === 'postgres') {
    pg = await createTestDb();
    await seedDemo(pg.db);
  } else {
    pgliteDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `tg-${name}-`)), 'pgdata');
    const setup = createDb({ kind: 'pglite', dataDir: pgliteDir });
    await migrateLatest(setup);
    await seedDemo(setup);
    await setup.destroy();
  }
  const proc = await startTollgateProcess({ name, databaseUrl: pg?.url, pgliteDir, upstreamUrl: upstream.url, env });
  const db = pg ? pg.db : createDb({ kind: 'local-socket', dir: localSocketDir(pgliteDir!) });
  const pid = proc.pid;
  return {
    proc,
    upstream,
    db,
    async key(agentId) {
      const k = generateAgentKey();
      await insertAgentKey(db, { id: k.id, agentId, hash: k.hash, prefix: k.prefix });
      return k.key;
    },
    async apiToken(role) {
      const t = generateApiToken();
      await insertApiToken(db, { id: t.id, hash: t.hash, prefix: t.prefix, role });
      return t.token;
    },
    alive: () => pid !== undefined && proc.pid === pid && isRunning(pid),
    async close() {
      if (!pg) await db.destroy();
      await proc.close();
      await upstream.close();
      await pg?.drop();
      if (pgliteDir) fs.rmSync(path.dirname(pgliteDir), { recursive: true, force: true });
    },
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
