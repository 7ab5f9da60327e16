import type { Knex } from 'knex';
import type { Db } from './knex.js';
import type { InflightRecord, UsageEvent } from '../metering/types.js';
import { arrayLiteral, columnArrays, type Column } from './ledger.js';

const INFLIGHT_COLUMNS: readonly Column<InflightRecord>[] = [
  ['request_id', 'text'], ['ts', 'timestamptz'], ['expires_at', 'timestamptz'], ['fallback', 'json', (r) => JSON.stringify(r.fallback)],
];

/**
 * In-flight calls, written by the metering writer in the same transaction as the ledger: a call's row goes
 * when its usage event is written; rows whose call never reported (its gateway died) expire, and their
 * fallback events are then written like any other.
 */
export async function insertInflight(trx: Db | Knex.Transaction, records: readonly InflightRecord[]): Promise<void> {
  if (records.length === 0) return;
  // A call whose usage is already in the ledger (replayed journal) is not in flight any more. The columns travel
  // as array literals (src/db/ledger.ts: columnArrays): each fallback is ~800 bytes of JSON, which the driver
  // would escape character by character. Stored as json (migration 041), but a fallback holding a \u escape (JSON
  // writes only control characters and lone surrogates so) still goes through jsonb, which refuses what text
  // cannot hold (NUL): refused here, it is set aside and written sanitized (src/metering/meter.ts), where taken
  // as it is it would be refused only when its gateway died, by the sweep that meters it.
  await trx.raw(`
    insert into inflight_calls (request_id, ts, expires_at, fallback)
    select r.request_id, r.ts, r.expires_at,
      case when strpos(r.fallback::text, '\\u') > 0 then r.fallback::text::jsonb::json else r.fallback end
    from unnest(?::text[], ?::timestamptz[], ?::timestamptz[], ?::json[]) as r(request_id, ts, expires_at, fallback)
    where not exists (select 1 from usage_events u where u.request_id = r.request_id)
    on conflict (request_id) do nothing`,
  columnArrays(INFLIGHT_COLUMNS, records));
}

export async function clearInflight(trx: Db | Knex.Transaction, requestIds: readonly string[]): Promise<void> {
  if (requestIds.length === 0) return;
  await trx.raw('delete from inflight_calls where request_id = any(?::text[])', [arrayLiteral(requestIds)]);
}

/** Fallback events of calls whose lease ran out, oldest first. */
export async function expiredInflight(db: Db, limit: number): Promise<UsageEvent[]> {
  const rows = (await db('inflight_calls').where('expires_at', '<', db.fn.now()).orderBy('expires_at').limit(limit).select('fallback')) as { fallback: UsageEvent | string }[];
  return rows.map((r) => (typeof r.fallback === 'string' ? (JSON.parse(r.fallback) as UsageEvent) : r.fallback));
}

/**
 * Renews the leases of calls still in flight on this replica: their in-flight rows and their budget reservations
 * expire `ttlMs` from now (Postgres' clock, which the sweeps read too), so that a stream outliving its first lease
 * is neither metered by the dead-gateway fallback nor loses its reservation. One statement for all of them.
 */
const RENEW_SQL = `
with ids as (
  select unnest(?::text[]) as request_id
), inflight as (
  update inflight_calls i set expires_at = now() + ?::float8 * interval '1 millisecond'
  from ids where i.request_id = ids.request_id
  returning 1
), reservations as (
  update budget_reservations r set expires_at = now() + ?::float8 * interval '1 millisecond'
  from ids where r.request_id = ids.request_id
  returning 1
)
select (select count(*) from inflight)::int as inflight, (select count(*) from reservations)::int as reservations`;

export async function renewCallLeases(db: Db, requestIds: readonly string[], ttlMs: number): Promise<{ inflight: number; reservations: number }> {
  const { rows } = (await db.raw(RENEW_SQL, [requestIds as unknown as Knex.RawBinding, ttlMs, ttlMs])) as { rows: { inflight: number; reservations: number }[] };
  return rows[0]!;
}
