import type { Knex } from 'knex';
import pg from 'pg';
import type { BudgetContacts, TierEventRow } from './notifications.js';

/**
 * Tier events as they happen, over Postgres LISTEN/NOTIFY: the metering writer (any replica) notifies in
 * the transaction that records the events, so a notification is sent exactly when the events commit, and
 * every replica listening gets every event. A live feed, not a queue: a listener that is disconnected
 * misses what happens meanwhile (budget_tier_events keeps the record; the budgets query reads it).
 */

export const TIER_CHANNEL = 'tollgate_tier_events';

/** What a notification carries: the event and the BU / use case it belongs to (subscribers filter on them). */
export type TierEventMessage = {
  id: number; budget_id: number; scope: string; scope_id: string; bu: string | null; use_case: string | null;
  tier: string; ratio: string; spent: string; limit: string; unit: string; period_start: string; key: string;
  request_id: string; crossed_at: string;
};

export async function notifyTierEvents(trx: Knex.Transaction | Knex, events: readonly TierEventRow[], contacts: ReadonlyMap<number, BudgetContacts>): Promise<void> {
  if (events.length === 0) return;
  // One small message per event: NOTIFY payloads are capped at 8000 bytes.
  const messages = events.map((e) => JSON.stringify(toMessage(e, contacts.get(e.budget_id))));
  await trx.raw('select pg_notify(?, m) from unnest(?::text[]) as m', [TIER_CHANNEL, messages as unknown as Knex.RawBinding]);
}

function toMessage(e: TierEventRow, b: BudgetContacts | undefined): TierEventMessage {
  return {
    id: e.id, budget_id: e.budget_id, scope: b?.scope ?? 'use_case', scope_id: b?.scope_id ?? '',
    bu: b?.bu?.id ?? null, use_case: b?.use_case?.id ?? null, tier: e.tier, ratio: String(e.ratio),
    spent: String(e.spent), limit: String(e.limit_amount), unit: e.unit,
    period_start: new Date(e.period_start).toISOString(), key: e.key, request_id: e.request_id,
    crossed_at: new Date(e.crossed_at).toISOString(),
  };
}

type Log = { warn(o: object, m: string): void };
type PGliteLike = { listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> };

export const LISTEN_RETRY_MS = 1000;

/** Calls `onEvent` for every tier event any replica records (see `listen`). */
export async function listenTierEvents(db: Knex, onEvent: (m: TierEventMessage) => void, log: Log): Promise<() => Promise<void>> {
  return listen(db, TIER_CHANNEL, (payload) => {
    try {
      onEvent(JSON.parse(payload ?? '') as TierEventMessage);
    } catch (err) {
      log.warn({ err }, 'tier event notification ignored');
    }
  }, log);
}

/**
 * Calls `deliver` for every notification on `channel`. On Postgres: a dedicated connection (LISTEN holds it
 * for good, so not one of the pool's), reconnected after a failure. On PGlite: its own listen API on the one
 * in-process connection. Returns a function that stops listening.
 */
export async function listen(db: Knex, channel: string, deliver: (payload: string | undefined) => void, log: Log): Promise<() => Promise<void>> {
  const pglite = (db.client as { pglite?: PGliteLike }).pglite;
  if (pglite) return onTheConnection(db, async () => {
    const unlisten = await pglite.listen(channel, deliver);
    return () => onTheConnection(db, unlisten);
  });
  return listenOnPostgres(connectionOf(db), channel, deliver, log);
}

/**
 * PGlite's listen API runs its statement past knex: it waits for knex-pglite's one connection here, so that
 * it never lands inside a transaction of a local-socket client (local-socket.ts), which holds it meanwhile.
 */
async function onTheConnection<T>(db: Knex, fn: () => Promise<T>): Promise<T> {
  const pool = db.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  const connection = await pool.acquireConnection();
  try {
    return await fn();
  } finally {
    await pool.releaseConnection(connection);
  }
}

async function listenOnPostgres(connectionString: string, channel: string, deliver: (payload: string | undefined) => void, log: Log): Promise<() => Promise<void>> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const reconnectLater = (err: unknown) => {
    log.warn({ err, channel }, 'notification listener lost its connection; reconnecting');
    if (!stopped) retry = setTimeout(() => void connect().catch(reconnectLater), LISTEN_RETRY_MS).unref();
  };
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString, application_name: `tollgate-listen-${channel}` });
    client = c;
    c.on('notification', (msg) => deliver(msg.payload));
    c.on('error', (err) => {
      void c.end().catch(() => undefined);
      reconnectLater(err);
    });
    await c.connect();
    await c.query(`listen ${channel}`);
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}

function connectionOf(db: Knex): string {
  const c = (db.client as { config: { connection?: string | { connectionString?: string } } }).config.connection;
  const url = typeof c === 'string' ? c : c?.connectionString;
  if (!url) throw new Error('a notification listener needs a Postgres connection string');
  return url;
}
