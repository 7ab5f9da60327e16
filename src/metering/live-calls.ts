import type { Db } from '../db/knex.js';
import { renewCallLeases } from '../db/inflight.js';
import { rounds } from '../ops/rounds.js';

type Log = { warn(obj: object, msg: string): void };

/**
 * The calls this replica has in flight, and the rounds that renew their leases. A call's in-flight row and budget
 * reservation expire `ttlMs` after the call started; a stream that lives longer (an upstream's body timeout is
 * between chunks, not in total) would have its dead-gateway fallback written, and its reservation given back,
 * while still live. Every ttlMs / 4 one statement renews them all; a replica that dies stops renewing, and its
 * calls are metered by their fallbacks once their leases run out, as before.
 *
 * add/remove are a Set's: the hot path's whole cost.
 */
export type LiveCalls = { add(requestId: string): void; remove(requestId: string): void; readonly size: number; start(): void; stop(): Promise<void> };

export const RENEWALS_PER_TTL = 4;

export function createLiveCalls(o: { db: Db; log: Log; ttlMs: number }): LiveCalls {
  const live = new Set<string>();
  let failing = false;
  const renewal = rounds({
    intervalMs: Math.max(1, Math.floor(o.ttlMs / RENEWALS_PER_TTL)),
    run: async () => {
      if (live.size === 0) return;
      await renewCallLeases(o.db, [...live], o.ttlMs);
      failing = false;
    },
    onError: (err) => {
      if (!failing) o.log.warn({ err, calls: live.size }, 'renewing the leases of calls in flight failed; retried next round (a call outliving its lease is metered by its fallback, then by its real usage)');
      failing = true;
    },
  });
  return {
    add: (id) => void live.add(id),
    remove: (id) => void live.delete(id),
    get size() {
      return live.size;
    },
    start: renewal.start,
    stop: renewal.stop,
  };
}
