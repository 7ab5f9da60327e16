import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { Db } from '../../src/db/knex.js';
import { createMeter, type Meter, type MeterOptions } from '../../src/metering/meter.js';
import { silentLog } from '../integration/fixtures/events.js';
import { createTestDb, type TestDb } from './db.js';

/** A flush interval the tests never reach: they flush explicitly. */
export const NEVER = 3_600_000;

export type MeterBed = {
  /** This test's migrated, empty database. */
  readonly t: TestDb;
  /** This test's journal directory. */
  readonly dir: string;
  /** A meter on `db` journaling into `dir`, closed after the test; flushed only when the test says so. */
  meterOn(db: Db, options?: Partial<MeterOptions>): Meter;
};

/**
 * Per test: a temporary database and journal directory, and every meter made with `meterOn` closed, the database
 * dropped and the directory removed after it. Call at the top of a file or describe block.
 */
export function meterBed(prefix: string, defaults: Partial<MeterOptions> = {}): MeterBed {
  let t: TestDb | undefined;
  let dir: string | undefined;
  const meters: Meter[] = [];
  beforeEach(async () => {
    t = await createTestDb();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const m of meters.splice(0)) await m.close();
    await t?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    t = dir = undefined;
  });
  return {
    get t() {
      if (!t) throw new Error('meterBed: used outside a test');
      return t;
    },
    get dir() {
      if (!dir) throw new Error('meterBed: used outside a test');
      return dir;
    },
    meterOn(db, options = {}) {
      const meter = createMeter({ db, journalDir: this.dir, flushIntervalMs: NEVER, batchSize: 1000, log: silentLog, ...defaults, ...options });
      meters.push(meter);
      return meter;
    },
  };
}
