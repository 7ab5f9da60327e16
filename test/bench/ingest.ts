/**
 * npm run bench (part 3): the metering writer's ingest rate into Postgres. writeBatch (src/db/ledger.ts) of
 * realistic synthetic traffic (src/analytics/synthetic.ts: ~2% denials, sessions, several models) with the demo
 * budgets in place and the budget state the gateway leaves now that budgets run on per-replica leases
 * (src/budgets/gate.ts): lease rows held by two replicas, counted as reserved in the budget counters, and an exact
 * per-call reservation for one call in RESERVED_SHARE only (calls near a cap fall back to one; in steady state
 * none do). Every batch inserts the ledger rows (two thirds of them with tool names), updates use_case_spend and
 * the budget counters, gives back the reservations it finds and adds to the hourly, monthly and tool rollups, in
 * one transaction. In live order each call is journaled as the gateway journals it (src/gateway/meter-call.ts):
 * an `inflight` record when it starts and its usage when it ends, its latency later; the meter holds an in-flight
 * record back up to TOLLGATE_INFLIGHT_GRACE_MS for its usage (src/metering/inflight-hold.ts; BENCH_INGEST_INFLIGHT_GRACE_MS,
 * default the gateway's 5,000, 0 for the writer before the hold), and a call older than that has its in-flight
 * row inserted by one batch and cleared by a later one.
 * Two baselines in the same run, the same usage rows each time: a bare `insert … select from unnest(…)` into an
 * index-less copy of usage_events (what moving the rows costs), and the ledger alone: the same insert into a copy
 * with all of usage_events' indexes and constraints, idempotent on request_id as the writer is, without budget
 * counters, reservations, in-flight rows or rollups (the ceiling of any writer that keeps an idempotent, indexed
 * ledger, on this machine).
 * Per batch size, the time is also split by statement (knex query events) to show where it goes.
 * Two orders of the same traffic (BENCH_INGEST_ORDER, default both): live, as a writer meets it in production
 * (timestamps a few seconds apart, the gateway's UUIDv7 request ids, in-flight records), and backfill, the
 * generator's order (sessions spread over three months, sequential ids, no in-flight records: a replay of
 * history), which spreads every batch over many rollup rows.
 * Each with one writer and with two at once (BENCH_INGEST_WRITERS, default 1,2): two gateway replicas, each
 * with its own calls (every other one) and journal, flushing its batches in order on its own connection, as a
 * deployment scales the writer out.
 * BENCH_INGEST_EVENTS (default 200,000 per batch size and writer count) and BENCH_INGEST_BATCHES (default 1000,5000,20000).
 * Targets: ≥ 50,000 events/s (issue 4); ≥ 0.6× the bare insert in the same run (issue 13).
 */
import os from 'node:os';
import type { Knex } from 'knex';
import { syntheticBatches } from '../../src/analytics/synthetic.js';
import { syntheticCatalog } from '../../src/cli/synthetic.js';
import { budgetApplies } from '../../src/db/budgets.js';
import { columnArrays, USAGE_COLUMNS, writeBatch } from '../../src/db/ledger.js';
import { requestId } from '../../src/gateway/request-id.js';
import type { Db } from '../../src/db/knex.js';
import { loadPrices } from '../../src/db/prices.js';
import { heldInflight } from '../../src/metering/inflight-hold.js';
import { createPriceBook } from '../../src/metering/pricing.js';
import type { InflightRecord, JournalRecord, UsageEvent } from '../../src/metering/types.js';
import { createBenchDb, ownPostgres, postgresCpu, seconds } from './bench-db.js';

const EVENTS = Number(process.env.BENCH_INGEST_EVENTS ?? 200_000);
const BATCHES = (process.env.BENCH_INGEST_BATCHES ?? '1000,5000,20000').split(',').map(Number);
const TARGET = 50_000;
const TARGET_RATIO = 0.6;
// One call in this many still takes an exact per-call reservation (near a cap, or a lease ran dry before its top-up).
const RESERVED_SHARE = 50;
const INFLIGHT_TTL_MS = 3_600_000;
// How long the meter holds an in-flight record back for its call's usage: the gateway's default (TOLLGATE_INFLIGHT_GRACE_MS).
const INFLIGHT_GRACE_MS = Number(process.env.BENCH_INGEST_INFLIGHT_GRACE_MS ?? 5000);
// live: the order and timestamps a writer sees in production (calls arrive now, at the target rate, with the
// gateway's UUIDv7 request ids); backfill: the generator's own order (sessions spread over three months).
const ORDERS = (process.env.BENCH_INGEST_ORDER ?? 'live,backfill').split(',') as ('live' | 'backfill')[];
// Writers at once, as that many gateway replicas each flushing its own batches on its own connection.
const WRITERS = (process.env.BENCH_INGEST_WRITERS ?? '1,2').split(',').map(Number);

// The exact reservations the gateway leaves for the calls that take one: one row per call listing every applicable
// budget, each reserved at 2× the cost, and counted in the budget counters as reserved (src/db/budgets.ts).
const RESERVE_SQL = `
with ev as (select * from unnest(?::text[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::text[], ?::numeric[], ?::int8[])
  as e(request_id, ts, bu_id, use_case_id, agent_id, session_id, cost, tokens)),
e as (
  select ev.request_id, b.id, date_trunc(b.period, ev.ts at time zone 'UTC') at time zone 'UTC' as period_start,
    case when b.scope = 'session' then ev.session_id else '' end as key,
    case when b.unit = 'usd' then ev.cost * 2 else ev.tokens * 2 end as amount
  from ev join budgets b on ${budgetApplies('b.', { bu: 'ev.bu_id', useCase: 'ev.use_case_id', agent: 'ev.agent_id' })}),
c as (
  insert into budget_counters as bc (budget_id, period_start, key, reserved, calls)
  select id, period_start, key, sum(amount), count(*) from e group by 1, 2, 3
  on conflict (budget_id, period_start, key) do update set reserved = bc.reserved + excluded.reserved, calls = bc.calls + excluded.calls)
insert into budget_reservations (request_id, budget_ids, period_starts, keys, amounts, expires_at)
select request_id, array_agg(id order by id), array_agg(period_start order by id), array_agg(key order by id),
  array_agg(amount order by id), now() + interval '1 day'
from e group by request_id`;

// Tool names as agents declare them (src/providers/*/tools.ts): the synthetic generator has none, so two thirds
// of the calls here get one to three of a use case's tools, which the writer counts into tool_usage_daily.
const TOOLS = ['inventory_lookup', 'sales_history', 'promo_calendar', 'web_search', 'policy_lookup', 'crm_search'];
function withTools(records: JournalRecord[]): void {
  let i = 0;
  for (const r of records) {
    if (r.kind !== 'usage' || i++ % 3 === 2) continue;
    const first = (r.use_case_id.length + i) % TOOLS.length;
    r.tools = TOOLS.slice(first, first + 1 + (i % 3)).sort();
  }
}

// The writer's ledger columns without tools and flags (text[] the writer builds in SQL from one joined string).
const BASELINE = USAGE_COLUMNS.filter(([name]) => name !== 'tools' && name !== 'flags');
const BASELINE_COLUMNS = BASELINE.map(([name]) => name);
const BASELINE_TYPES = BASELINE.map(([, type]) => type);
const baselineSql = (table: string, tail = '') => `insert into ${table} (${BASELINE_COLUMNS.join(', ')}, accounting_period)
select u.*, to_char(u.ts at time zone 'UTC', 'YYYY-MM') from unnest(${BASELINE_TYPES.map((t) => `?::${t}[]`).join(', ')}) as u(${BASELINE_COLUMNS.join(', ')})${tail}`;
const BARE = { table: 'bench_scratch', sql: baselineSql('bench_scratch') };
const LEDGER_ALONE = { table: 'bench_ledger', sql: baselineSql('bench_ledger', ' on conflict (request_id) do nothing') };

/** Restamps the records as a live stream: one every 1/TARGET s ending now, each with its request id as the gateway makes it. */
function live(records: JournalRecord[]): void {
  const end = Date.now();
  const start = end - (records.length / TARGET) * 1000;
  records.forEach((r, i) => {
    const at = start + (i / TARGET) * 1000;
    r.request_id = requestId(Math.floor(at));
    r.ts = new Date(at).toISOString();
  });
}

/**
 * The journal as the gateway writes it: a call's `inflight` record when it starts (its ts), its usage when it
 * ends (latency_ms later), denials at once; in the order they are journaled, with the time of each.
 */
function journaled(records: readonly JournalRecord[]): { records: JournalRecord[]; at: number[] } {
  const at: { t: number; r: JournalRecord }[] = [];
  for (const r of records) {
    const t = Date.parse(r.ts);
    if (r.kind !== 'usage') {
      at.push({ t, r });
      continue;
    }
    const fallback: UsageEvent = { ...r, status: 0, partial: true, output_tokens: 0, latency_ms: 0, flags: ['fallback'] };
    at.push({ t, r: { kind: 'inflight', request_id: r.request_id, ts: r.ts, expires_at: new Date(t + INFLIGHT_TTL_MS).toISOString(), fallback } });
    at.push({ t: t + r.latency_ms, r });
  }
  at.sort((a, b) => a.t - b.t);
  return { records: at.map((x) => x.r), at: at.map((x) => x.t) };
}

/**
 * The batches the meter hands the writer from that journal (src/metering/meter.ts): batchSize records each, an
 * in-flight record it holds (src/metering/inflight-hold.ts, at the batch's last journal time) going on to the next.
 */
function meterBatches(journal: { records: JournalRecord[]; at: number[] }, batchSize: number): JournalRecord[][] {
  const batches: JournalRecord[][] = [];
  let carried: JournalRecord[] = [];
  for (let i = 0; i < journal.records.length; i += batchSize) {
    const batch = [...carried, ...journal.records.slice(i, i + batchSize)];
    const held = heldInflight(batch, journal.at[Math.min(i + batchSize, journal.records.length) - 1]!, INFLIGHT_GRACE_MS);
    batches.push(batch.filter((r) => !held.has(r as InflightRecord)));
    carried = [...held];
  }
  if (carried.length > 0) batches.push(carried);
  return batches;
}

// The lease rows two replicas hold on every non-session budget of this month, counted as reserved (src/db/leases.ts).
const LEASE_SQL = `
with l as (
  insert into budget_leases (budget_id, period_start, key, holder, amount, calls, expires_at)
  select b.id, date_trunc(b.period, now() at time zone 'UTC') at time zone 'UTC', '', h.holder,
    case when b.unit = 'usd' then 5 else 50000 end, 0, now() + interval '1 day'
  from budgets b cross join (values ('replica-a'), ('replica-b')) as h(holder)
  where b.scope <> 'session'
  returning budget_id, period_start, key, amount, calls
)
insert into budget_counters as bc (budget_id, period_start, key, reserved, calls)
select budget_id, period_start, key, sum(amount), sum(calls) from l group by 1, 2, 3
on conflict (budget_id, period_start, key) do update set reserved = bc.reserved + excluded.reserved, calls = bc.calls + excluded.calls`;

function generate(db: Db, n: number, seed: number) {
  return async () => {
    const rows = await loadPrices(db);
    const catalog = await syntheticCatalog(db, rows);
    // The current month and the two before it: the budgets' periods are live ones.
    const until = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1));
    const all: JournalRecord[] = [];
    for (const b of syntheticBatches(catalog, createPriceBook(rows), { events: n, months: 3, seed, until }, 50_000)) all.push(...b);
    return all;
  };
}

async function reserve(db: Db, records: readonly JournalRecord[]): Promise<void> {
  const usage = records.filter((r): r is UsageEvent => r.kind === 'usage').filter((_, i) => i % RESERVED_SHARE === 0);
  for (let i = 0; i < usage.length; i += 20_000) {
    const u = usage.slice(i, i + 20_000);
    await db.raw(RESERVE_SQL, [
      u.map((e) => e.request_id), u.map((e) => e.ts), u.map((e) => e.bu_id), u.map((e) => e.use_case_id), u.map((e) => e.agent_id),
      u.map((e) => e.session_id), u.map((e) => e.cost), u.map((e) => e.input_tokens + e.cached_input_tokens + e.cache_write_tokens + e.output_tokens),
    ] as unknown as Knex.RawBinding[]);
  }
}

/**
 * Milliseconds spent per kind of statement, from knex's query / query-response events. The usage and decision
 * statements are prepared by name past knex (src/db/ledger.ts), so they are not seen: their share is what the
 * statements seen leave of the writers' time (with the writer's own work between statements).
 */
function statementClock(db: Db) {
  const started = new Map<string, bigint>();
  const spent = new Map<string, number>();
  const label = (sql: string) => {
    const s = sql.replace(/\s+/g, ' ').trim().toLowerCase();
    if (s.startsWith('begin') || s.startsWith('commit')) return s.split(' ')[0]!;
    for (const [needle, name] of [['into inflight_calls', 'insert inflight'], ['from inflight_calls', 'clear inflight'], ['into budget_counters', 'budget counters'],
      ['into usage_hourly', 'rollup usage_hourly'], ['into decisions_hourly', 'rollup decisions_hourly'], ['tier_events', 'tier events'], ['into tool_usage_daily', 'rollup tool_usage_daily']] as const) {
      if (s.includes(needle)) return name;
    }
    return s.slice(0, 30);
  };
  const onQuery = (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, process.hrtime.bigint());
  const onEnd = (_: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const t = started.get(q.__knexQueryUid);
    if (t === undefined) return;
    started.delete(q.__knexQueryUid);
    const k = label(q.sql);
    spent.set(k, (spent.get(k) ?? 0) + Number(process.hrtime.bigint() - t) / 1e6);
  };
  db.on('query', onQuery).on('query-response', onEnd);
  return {
    report(total: number, writers: number) {
      db.removeListener('query', onQuery).removeListener('query-response', onEnd);
      const seen = [...spent.values()].reduce((a, b) => a + b, 0);
      spent.set('insert usage + spend, insert decisions (prepared) and the rest', Math.max(0, total * writers - seen));
      // With several writers the shares add up over them (two writers busy all the time: 200%).
      return [...spent.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${((v / total) * 100).toFixed(0)}%`).join(', ');
    },
  };
}

/** The server's WAL position (and bytes written since `from`) and its checkpoints so far. */
async function walState(db: Db, from?: string) {
  const { rows } = await db.raw(`select pg_current_wal_lsn()::text as lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(?::pg_lsn, pg_current_wal_lsn()))::float8 as bytes,
    (select checkpoints_timed + checkpoints_req from pg_stat_bgwriter)::int as checkpoints`, [from ?? null]);
  return rows[0] as { lsn: string; bytes: number; checkpoints: number };
}

const chunk = <T>(items: readonly T[], size: number) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Calls and denials: what the rates count (an in-flight record is part of its call). */
const eventsIn = (records: readonly JournalRecord[]) => records.filter((r) => r.kind !== 'inflight').length;

/** Writers at once (as many gateway replicas, a connection each), each writing its own batches in order, as a replica's meter does. */
async function timeWriter(db: Db, perWriter: readonly (readonly JournalRecord[][])[]) {
  const records = perWriter.flat(2);
  const wal0 = await walState(db);
  const own = await ownPostgres(db);
  const clock = statementClock(db);
  const [cpu0, postgres0] = [process.cpuUsage(), postgresCpu(own)];
  const t = process.hrtime.bigint();
  await Promise.all(perWriter.map(async (batches) => {
    for (const batch of batches) await writeBatch(db, batch);
  }));
  const s = seconds(t);
  const cpu = process.cpuUsage(cpu0);
  const events = eventsIn(records);
  const cpuPerEvent = { bench: (cpu.user + cpu.system) / events, postgres: postgresCpu(own).since(postgres0) / events };
  const breakdown = clock.report(s * 1000, perWriter.length);
  const wal1 = await walState(db, wal0.lsn);
  const wal = { bytesPerEvent: wal1.bytes / events, checkpoints: wal1.checkpoints - wal0.checkpoints };
  return { perSecond: events / s, breakdown, cpuPerEvent, wal };
}

async function timeBaseline(db: Db, records: readonly JournalRecord[], batchSize: number, into: { table: string; sql: string }) {
  await db.raw(`truncate ${into.table}`);
  const usage = records.filter((r): r is UsageEvent => r.kind === 'usage');
  const own = await ownPostgres(db);
  const postgres0 = postgresCpu(own);
  const t = process.hrtime.bigint();
  for (let i = 0; i < usage.length; i += batchSize) {
    const chunk = usage.slice(i, i + batchSize);
    // The rows travel as the writer sends them: one array literal per column (src/db/ledger.ts).
    await db.transaction((trx) => trx.raw(into.sql, columnArrays(BASELINE, chunk)));
  }
  const events = eventsIn(records);
  return { perSecond: events / seconds(t), postgresCpu: postgresCpu(own).since(postgres0) / events };
}

async function main() {
  console.log(`ingest bench: writeBatch into Postgres, ${EVENTS.toLocaleString('en')} records per batch size (${BATCHES.join(', ')}) and writer count (${WRITERS.join(', ')}), demo budgets, leases, 1 in ${RESERVED_SHARE} calls reserving exactly, node ${process.version}, ${os.cpus().length} cpus`);
  const bench = await createBenchDb({ budgets: true });
  try {
    const { db } = bench;
    await db.raw('create table bench_scratch (like usage_events including defaults)');
    await db.raw('create table bench_ledger (like usage_events including all)');
    await db.raw(LEASE_SQL);
    const leased = (await db('budget_leases').sum<{ r: string }[]>({ r: 'amount' }))[0]!.r;
    for (const order of ORDERS) for (const [k, batchSize] of BATCHES.entries()) {
      let baselines: { base: number; ledger: number } | undefined;
      // The same traffic for every writer count, under request ids of its own (nothing is a replay).
      const prepare = async (writers: number) => {
        const records = await generate(db, EVENTS, k + 1)();
        if (order === 'live') live(records);
        else for (const r of records) r.request_id = `b${batchSize}w${writers}-${r.request_id}`;
        withTools(records);
        await reserve(db, records);
        // Each writer a replica with its own calls and journal: a call's in-flight record and its usage reach the
        // same meter, which writes its batches one after the other.
        const perWriter = Array.from({ length: writers }, (_, w) => {
          const own = records.filter((_, i) => i % writers === w);
          return order === 'live' ? meterBatches(journaled(own), batchSize) : chunk(own, batchSize);
        });
        await db.raw('vacuum analyze');
        return { records, perWriter };
      };
      for (const [n, writers] of WRITERS.entries()) {
        const { records, perWriter } = await prepare(writers);
        if (n === 0) {
          const base = await timeBaseline(db, records, batchSize, BARE);
          const ledger = await timeBaseline(db, records, batchSize, LEDGER_ALONE);
          baselines = { base: base.perSecond, ledger: ledger.perSecond };
          console.log(`${order.padEnd(8)} batch ${String(batchSize).padStart(6)}  baselines: bare UNNEST insert ${base.perSecond.toFixed(0)}/s (postgres ${base.postgresCpu.toFixed(1)} µs/event), ledger alone (indexed, idempotent; no budgets or rollups) ${ledger.perSecond.toFixed(0)}/s (${ledger.postgresCpu.toFixed(1)} µs/event)`);
        }
        const writer = await timeWriter(db, perWriter);
        const batches = perWriter.flat();
        // In-flight rows the writer inserts: records of calls whose usage is not in the same batch (src/db/ledger.ts).
        const inflightRows = batches.reduce((n, b) => {
          const ended = new Set(b.filter((r) => r.kind === 'usage').map((r) => r.request_id));
          return n + b.filter((r) => r.kind === 'inflight' && !ended.has(r.request_id)).length;
        }, 0);
        const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
        const { base, ledger } = baselines!;
        console.log(`  ${writers} writer${writers === 1 ? ' ' : 's'}  writeBatch ${writer.perSecond.toFixed(0).padStart(6)} events/s  ×${(writer.perSecond / base).toFixed(2)} of bare, ×${(writer.perSecond / ledger).toFixed(2)} of ledger alone  (targets ≥ ${TARGET.toLocaleString('en')}/s: ${met(writer.perSecond >= TARGET)}; ≥ ×${TARGET_RATIO} of bare: ${met(writer.perSecond >= TARGET_RATIO * base)})`);
        // What the target asks of the machine at this CPU cost, however the work were spread over its cores.
        const { bench: cpuBench, postgres: cpuPg } = writer.cpuPerEvent;
        const cores = ((cpuBench + cpuPg) * TARGET) / 1e6;
        console.log(`              cpu per event: this process ${cpuBench.toFixed(1)} µs, postgres ${cpuPg.toFixed(1)} µs; ${TARGET.toLocaleString('en')}/s at that cost keeps ${cores.toFixed(1)} cores busy (this machine: ${os.cpus().length})`);
        if (order === 'live') console.log(`              in-flight rows written (records held ${INFLIGHT_GRACE_MS} ms for their usage): ${(inflightRows / eventsIn(records)).toFixed(3)} per event`);
        console.log(`              WAL per event ${(writer.wal.bytesPerEvent / 1024).toFixed(1)} KiB, checkpoints during the run ${writer.wal.checkpoints}; time in: ${writer.breakdown}`);
      }
    }
    const left = (await db('budget_reservations').count<{ n: string }[]>({ n: '*' }))[0]!.n;
    const reserved = (await db('budget_counters').sum<{ r: string | null }[]>({ r: 'reserved' }))[0]!.r;
    const inflight = (await db('inflight_calls').count<{ n: string }[]>({ n: '*' }))[0]!.n;
    console.log(`after the writers: reservations left ${left}, in-flight rows left ${inflight}, reserved in the budget counters ${Number(reserved ?? 0)} (expected 0, 0 and the leases' ${Number(leased)})`);
  } finally {
    await bench.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
