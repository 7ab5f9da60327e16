import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countDecisions, sumLedger } from '../../src/db/ledger.js';
import { createMeter } from '../../src/metering/meter.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { silentLog } from './fixtures/events.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/record-and-die.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the fixture until it reports that `n` events are recorded, then SIGKILLs it. */
async function recordAndKill(journalDir: string, n: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, journalDir, String(n)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  for await (const chunk of child.stdout) {
    out += chunk as string;
    if (out.includes(`recorded ${n}\n`)) break;
  }
  expect(out).toContain(`recorded ${n}`);
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  const [code, signal] = await exited;
  expect(code).toBeNull();
  expect(signal).toBe('SIGKILL');
}

describe('metering survives a SIGKILL', () => {
  let t: TestDb;
  let dir: string;
  beforeEach(async () => {
    t = await createTestDb();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-crash-'));
  });
  afterEach(async () => {
    await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('replays every event a killed process recorded, exactly once', async () => {
    const n = 500;
    await recordAndKill(dir, n);
    expect(await sumLedger(t.db)).toMatchObject({ calls: 0 });

    const meter = createMeter({ db: t.db, journalDir: dir, flushIntervalMs: 3_600_000, batchSize: 100, log: silentLog });
    await meter.start();
    await meter.close();

    const usage = n - n / 10;
    expect((await sumLedger(t.db)).calls).toBe(usage);
    expect(await countDecisions(t.db)).toBe(n / 10);
    expect(meter.stats()).toMatchObject({ flushed: n, inserted: n, pendingSegments: 0 });
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('segment-'))).toEqual([]);

    // And once more from the same directory: nothing left to replay, nothing counted twice.
    const again = createMeter({ db: t.db, journalDir: dir, flushIntervalMs: 3_600_000, batchSize: 100, log: silentLog });
    await again.start();
    await again.close();
    expect((await sumLedger(t.db)).calls).toBe(usage);
  });
});
