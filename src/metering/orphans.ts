import type { Db } from '../db/knex.js';
import { expiredInflight } from '../db/inflight.js';
import { writeBatch } from '../db/ledger.js';

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

const BATCH = 500;

/**
 * Writes the fallback event of every call whose gateway never reported back (killed mid-call). Any replica
 * may run it: the ledger's unique request_id makes two sweeps of the same call write it once, and a call
 * that did report in the meantime keeps its real event.
 */
export async function sweepOrphanedCalls(db: Db): Promise<number> {
  let written = 0;
  for (;;) {
    const events = await expiredInflight(db, BATCH);
    if (events.length === 0) return written;
    written += (await writeBatch(db, events)).usageInserted;
    if (events.length < BATCH) return written;
  }
}

export function startOrphanSweeper(db: Db, log: Log, intervalMs: number): () => void {
  const timer = setInterval(() => {
    sweepOrphanedCalls(db).then(
      (n) => { if (n > 0) log.warn({ calls: n }, 'metered calls whose gateway stopped before they reported (partial, estimated prompt)'); },
      (err: unknown) => log.warn({ err }, 'in-flight sweep failed; it runs again'),
    );
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
