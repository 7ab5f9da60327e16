import type { Db } from '../db/knex.js';
import { claimDueNotifications, markAttemptFailed, markDelivered, type ClaimedRow } from '../db/notifications.js';
import { rounds } from '../ops/rounds.js';

/**
 * The outbox worker: delivers tier notifications (and the council's adjacency alerts, same outbox) by
 * webhook, on its own timer, so a slow or dead receiver never holds a call. Delivery is at least once (a
 * replica that dies after the POST and before recording it sends again when its lease ends); every request
 * carries an Idempotency-Key for receivers that care.
 */

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };

export type NotifierOptions = {
  db: Db;
  log: Log;
  intervalMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Rows claimed per round. */
  batchSize?: number;
  backoff?: { baseMs: number; maxMs: number };
};

export type RunResult = { delivered: number; failed: number; retried: number };

export type Notifier = {
  start(): void;
  stop(): Promise<void>;
  runOnce(): Promise<RunResult>;
};

export const NOTIFIER_DEFAULTS = Object.freeze({
  intervalMs: 1000,
  maxAttempts: 10,
  timeoutMs: 5000,
  batchSize: 20,
  backoff: Object.freeze({ baseMs: 1000, maxMs: 5 * 60_000 }),
});

// How long past the request timeout a claim stays leased: covers recording the outcome.
const LEASE_MARGIN_MS = 5000;
const MAX_ERROR_CHARS = 500;

/** base × 2^(attempt−1), capped, with ±25% jitter so that retries of many rows do not arrive together. */
export function backoffDelay(attempt: number, backoff: { baseMs: number; maxMs: number }, random = Math.random): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.75 + random() * 0.5));
}

export function createNotifier(options: NotifierOptions): Notifier {
  const o = {
    db: options.db,
    log: options.log,
    intervalMs: options.intervalMs ?? NOTIFIER_DEFAULTS.intervalMs,
    maxAttempts: options.maxAttempts ?? NOTIFIER_DEFAULTS.maxAttempts,
    timeoutMs: options.timeoutMs ?? NOTIFIER_DEFAULTS.timeoutMs,
    batchSize: options.batchSize ?? NOTIFIER_DEFAULTS.batchSize,
    backoff: options.backoff ?? NOTIFIER_DEFAULTS.backoff,
    fetch: options.fetch ?? globalThis.fetch,
  };
  async function runOnce(): Promise<RunResult> {
    const rows = await claimDueNotifications(o.db, { limit: o.batchSize, leaseMs: o.timeoutMs + LEASE_MARGIN_MS });
    const outcomes = await Promise.all(rows.map(deliver));
    return {
      delivered: outcomes.filter((x) => x === 'delivered').length,
      failed: outcomes.filter((x) => x === 'failed').length,
      retried: outcomes.filter((x) => x === 'retried').length,
    };
  }

  async function deliver(row: ClaimedRow): Promise<keyof RunResult | 'lost'> {
    const result = await post(row);
    if (result.ok) return (await markDelivered(o.db, row, result.status)) ? 'delivered' : 'lost';
    const retryInMs = row.attempts >= o.maxAttempts ? null : backoffDelay(row.attempts, o.backoff);
    const recorded = await markAttemptFailed(o.db, row, { status: result.status, error: result.error, retryInMs });
    if (!recorded) return 'lost';
    if (retryInMs === null) o.log.warn({ notification: row.id, attempts: row.attempts, error: result.error }, 'notification delivery failed for good');
    return retryInMs === null ? 'failed' : 'retried';
  }

  async function post(row: ClaimedRow): Promise<{ ok: true; status: number } | { ok: false; status: number | null; error: string }> {
    try {
      const res = await o.fetch(row.target_url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'tollgate-notifier', 'idempotency-key': `tollgate-notification-${row.id}` },
        body: JSON.stringify(row.payload),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      const body = await res.text().catch(() => '');
      if (res.ok) return { ok: true, status: res.status };
      return { ok: false, status: res.status, error: `HTTP ${res.status}${body ? `: ${body}` : ''}`.slice(0, MAX_ERROR_CHARS) };
    } catch (err) {
      return { ok: false, status: null, error: describe(err).slice(0, MAX_ERROR_CHARS) };
    }
  }

  const loop = rounds({ intervalMs: o.intervalMs, run: runOnce, onError: (err) => o.log.warn({ err }, 'notification round failed; retrying on the next one') });
  return { start: loop.start, stop: loop.stop, runOnce };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}
