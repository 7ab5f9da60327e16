import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/db/knex.js';
import { localSocketDir, localSocketPath, serveLocalSocket, type LocalSocket } from '../../src/db/local-socket.js';
import { TEST_DB_KIND } from '../helpers/db.js';

/**
 * serve's embedded database shared over its local socket (src/db/local-socket.ts): serve's own knex on
 * PGlite and socket clients (pg, as the CLI uses it) take turns on PGlite's one session, a unit at a time.
 * PGlite only: on Postgres there is nothing to share (the file is skipped on the Postgres run).
 */

const IDLE_HOLD_MS = 1500;
const warnings: string[] = [];
const log = { info: () => {}, warn: (_: object, m: string) => void warnings.push(m) };

let dir: string;
let pgliteDir: string;
let serve: Db;
let socket: LocalSocket;
const clients: pg.Client[] = [];

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ host: localSocketDir(pgliteDir), port: 5432, user: 'postgres', database: 'postgres' });
  await c.connect();
  clients.push(c);
  return c;
}

const rows = async (where = 'true') => Number((await serve.raw(`select count(*)::int as n from t where ${where}`)).rows[0].n);

/** Resolves to 'pending' if `p` has not settled within `ms`. */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, sleep(ms).then(() => 'pending' as const)]);
}

describe.skipIf(TEST_DB_KIND === 'postgres')('the embedded database on its local socket', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-socket-'));
    pgliteDir = path.join(dir, 'pgdata');
    // An in-memory PGlite: the socket only needs the directory's name to sit beside it.
    serve = createDb({ kind: 'pglite-memory' });
    await serve.raw('create table t (id serial primary key, who text not null, n int not null)');
    socket = (await serveLocalSocket(serve, pgliteDir, log, { idleHoldMs: IDLE_HOLD_MS }))!;
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await serve('t').del();
  });

  afterAll(async () => {
    await socket?.close();
    expect(fs.existsSync(localSocketDir(pgliteDir)), 'closing removes the socket').toBe(false);
    await serve?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is reachable by its owner only: a 0700 directory, a 0600 socket', () => {
    expect(fs.statSync(localSocketDir(pgliteDir)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(localSocketPath(pgliteDir)).mode & 0o777).toBe(0o600);
  });

  it("keeps serve's queries out of a client's open transaction", async () => {
    const c = await client();
    await c.query('begin');
    await c.query("insert into t (who, n) values ('client', 1)");
    const seen = rows();
    expect(await settledWithin(seen, 300), "serve waits for the client's transaction").toBe('pending');
    await c.query('rollback');
    expect(await seen, 'and never saw its uncommitted row').toBe(0);
  });

  it("keeps a client's queries out of serve's open transaction", async () => {
    const c = await client();
    const trx = await serve.transaction();
    await trx('t').insert({ who: 'serve', n: 1 });
    const seen = c.query('select count(*)::int as n from t');
    expect(await settledWithin(seen, 300), "the client waits for serve's transaction").toBe('pending');
    await trx.rollback();
    expect((await seen).rows[0].n).toBe(0);
  });

  it('serves clients and serve side by side, parameterized statements and transactions, with nothing lost or mixed', async () => {
    const cs = await Promise.all([client(), client(), client()]);
    const perWriter = 40;
    const socketWriters = cs.map(async (c, k) => {
      for (let i = 0; i < perWriter; i++) {
        // Parse/Bind/Execute/Sync with parameters: interleaving two clients' unnamed statements would mix them.
        if (i % 4 === 0) {
          await c.query('begin');
          await c.query('insert into t (who, n) values ($1, $2)', [`client-${k}`, i]);
          await c.query('insert into t (who, n) values ($1, $2)', [`client-${k}`, -i]);
          await c.query(i % 8 === 0 ? 'commit' : 'rollback');
        } else {
          const r = await c.query('insert into t (who, n) values ($1, $2) returning who, n', [`client-${k}`, i]);
          expect(r.rows[0]).toEqual({ who: `client-${k}`, n: i });
        }
      }
    });
    const serveWriter = (async () => {
      for (let i = 0; i < perWriter; i++) {
        await serve.transaction(async (trx) => {
          await trx('t').insert({ who: 'serve', n: i });
          await trx('t').insert({ who: 'serve', n: -i });
        });
      }
    })();
    await Promise.all([...socketWriters, serveWriter]);
    // Per client: 30 single inserts, 5 committed transactions of two rows, 5 rolled back.
    for (let k = 0; k < cs.length; k++) expect(await rows(`who = 'client-${k}'`)).toBe(30 + 5 * 2);
    expect(await rows("who = 'serve'")).toBe(2 * perWriter);
  });

  it('rolls back the transaction of a client that goes away, and serve carries on', async () => {
    const c = await client();
    c.on('error', () => {});
    await c.query('begin');
    await c.query("insert into t (who, n) values ('gone', 1)");
    const seen = rows();
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect(await seen).toBe(0);
    expect(await rows("who = 'gone'")).toBe(0);
  });

  it('drops the named statements a client leaves behind, so the next client may use the same names', async () => {
    const first = await client();
    await first.query({ name: 'tollgate_probe', text: 'select $1::int as n', values: [1] });
    await first.end();
    const second = await client();
    expect((await second.query({ name: 'tollgate_probe', text: 'select $1::int as n', values: [2] })).rows).toEqual([{ n: 2 }]);
  });

  it('disconnects a client that holds the database idle in a transaction, rolling it back', async () => {
    const c = await client();
    c.on('error', () => {});
    const ended = new Promise((resolve) => c.once('end', resolve));
    await c.query('begin');
    await c.query("insert into t (who, n) values ('idle', 1)");
    await ended;
    expect(await rows("who = 'idle'")).toBe(0);
    expect(warnings.some((w) => w.includes('held the embedded database idle too long'))).toBe(true);
  }, 10_000);

  it('answers a protocol error with an error and closes, without holding the database', async () => {
    const net = await import('node:net');
    const s = net.createConnection(localSocketPath(pgliteDir));
    const reply = new Promise<Buffer>((resolve) => {
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      s.on('close', () => resolve(got));
    });
    const bad = Buffer.alloc(8);
    bad.writeInt32BE(8, 0);
    bad.writeInt32BE(1234, 4);
    s.write(bad);
    const answer = await reply;
    expect(String.fromCharCode(answer[0]!)).toBe('E');
    expect(answer.toString()).toContain('unsupported protocol version');
    expect(await rows()).toBe(0);
  });
});
