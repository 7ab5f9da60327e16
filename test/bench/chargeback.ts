/**
 * npm run bench (part 2): the month's chargeback by BU × use case through GraphQL (hourly rollups) against a
 * plain GROUP BY over the ledger for the same month, in the same run, on the same database.
 *   - A scratch Postgres database (tollgate_bench_<rand>) is migrated, seeded with the demo catalog and filled
 *     straight in SQL with BENCH_EVENTS usage events over 2026 (default 1,000,000; the issue's figure is
 *     BENCH_EVENTS=10000000): sessions of one agent on one of its use cases, working hours busier, skewed
 *     agent and model mix, log-normal token counts, priced from `prices`. Pseudo-random by hashing the row
 *     number (hashint8extended), so a given N always gives the same ledger. The rollups are then built with
 *     the migration's own backfill statements (src/db/rollups.ts).
 *   - BENCH_QUERIES (default 50) timed runs of each after a warm-up; p50/p95 and the ratio.
 * Targets (issue 4): GraphQL p95 ≤ 50 ms and ≥ 50× faster than the ledger scan.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import type { Db } from '../../src/db/knex.js';
import { DECISION_ROLLUP_FROM_LOG, USAGE_MONTHLY_FROM_HOURLY, USAGE_ROLLUP_FROM_LEDGER } from '../../src/db/rollups.js';
import { createBenchDb, ms, pct, seconds } from './bench-db.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 50);
const WARMUP = 5;
const MONTH = '2026-06';
const YEAR_START = '2026-01-01T00:00:00Z';
const ROWS_PER_STATEMENT = 1_000_000;
const SESSION_CALLS = 20;
const DENIAL_RATE = 0.02;

// Agents and the latest price of each of their models (every seeded price is in force before 2026).
const PREPARE_SQL = `
create table bench_agents as
select (row_number() over (order by a.id) - 1)::int as k, a.id, a.bu_id,
  (select array_agg(use_case_id order by use_case_id) from agent_use_cases u where u.agent_id = a.id) as use_cases,
  (select array_agg(model_id order by model_id) from agent_models m where m.agent_id = a.id) as models
from agents a;
create table bench_prices as
select distinct on (p.model_id) p.id, p.model_id, m.provider_id, p.input_per_mtok, p.cached_input_per_mtok,
  p.cache_write_per_mtok, p.output_per_mtok, p.currency
from prices p join models m on m.id = p.model_id
where p.effective_from <= '${YEAR_START}'
order by p.model_id, p.effective_from desc;`;

// u(i, k): a uniform [0, 1) draw, the k-th of row (or session) i.
const U = (i: string, k: number) => `((hashint8extended(${i}, ${k}) & 2147483647)::float8 / 2147483648)`;

/**
 * One row per i in [lo, hi]: session i / SESSION_CALLS picks the agent (skewed), the use case and a start on a
 * weekday-agnostic diurnal curve (three quarters in 08:00–18:00 UTC); calls are ~10 s apart.
 */
const FILL_SQL = `
insert into usage_events (request_id, ts, bu_id, use_case_id, agent_id, session_id, parent_request_id, provider,
  endpoint, model_requested, model_served, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
  cost, currency, price_id, status, partial, latency_ms, decision_code, policy_revision, budget_tier, accounting_period)
select 'bench-' || lpad(x.i::text, 10, '0'), x.ts, a.bu_id, a.use_cases[1 + floor(x.u_case * cardinality(a.use_cases))::int], a.id,
  'bench-s' || x.s, case when x.i % ${SESSION_CALLS} = 0 then null else 'bench-' || lpad((x.i - 1)::text, 10, '0') end,
  p.provider_id, case when p.provider_id = 'anthropic' then '/v1/messages' when p.model_id like 'text-embedding%' then '/v1/embeddings' else '/v1/chat/completions' end,
  p.model_id, p.model_id, t.input, t.cached, t.cache_write, t.output,
  round((t.input * p.input_per_mtok + t.cached * p.cached_input_per_mtok + t.cache_write * p.cache_write_per_mtok + t.output * p.output_per_mtok) / 1000000, 12),
  p.currency, p.id, case when x.u_partial < 0.01 then 499 when x.u_partial < 0.015 then 500 else 200 end, x.u_partial < 0.01,
  (300 + 4000 * x.u_latency)::int, 'ok', 'bench', 'normal', to_char(x.ts at time zone 'UTC', 'YYYY-MM')
from (
  select g.i, g.i / ${SESSION_CALLS} as s,
    timestamptz '${YEAR_START}'
      + floor(${U(`g.i / ${SESSION_CALLS}`, 1)} * 365) * interval '1 day'
      + case when ${U(`g.i / ${SESSION_CALLS}`, 2)} < 0.75 then 8 + floor(${U(`g.i / ${SESSION_CALLS}`, 3)} * 10) else floor(${U(`g.i / ${SESSION_CALLS}`, 3)} * 24) end * interval '1 hour'
      + floor(${U(`g.i / ${SESSION_CALLS}`, 4)} * 3000) * interval '1 second'
      + (g.i % ${SESSION_CALLS}) * interval '10 seconds' as ts,
    ${U(`g.i / ${SESSION_CALLS}`, 5)} as u_agent, ${U(`g.i / ${SESSION_CALLS}`, 6)} as u_case,
    ${U('g.i', 7)} as u_model, ${U('g.i', 8)} as u_prompt1, ${U('g.i', 9)} as u_prompt2, ${U('g.i', 10)} as u_cached,
    ${U('g.i', 11)} as u_out1, ${U('g.i', 12)} as u_out2, ${U('g.i', 13)} as u_partial, ${U('g.i', 14)} as u_latency
  from generate_series(?::int8, ?::int8) as g(i)
) x
join bench_agents a on a.k = floor(power(x.u_agent, 1.6) * (select count(*) from bench_agents))::int
join bench_prices p on p.model_id = a.models[1 + floor(power(x.u_model, 0.7) * cardinality(a.models))::int]
cross join lateral (
  select prompt - cached as input, cached, case when p.provider_id = 'anthropic' and x.i % ${SESSION_CALLS} = 0 then prompt / 2 else 0 end as cache_write,
    case when p.model_id like 'text-embedding%' then 0 else round(exp(5.5 + 0.8 * sqrt(-2 * ln(1 - x.u_out1)) * cos(2 * pi() * x.u_out2)))::int8 end as output
  from (select prompt, case when x.i % ${SESSION_CALLS} > 0 and x.u_cached < 0.33 then (prompt * (0.3 + 0.6 * x.u_cached / 0.33))::int8 else 0 end as cached
        from (select round(exp(7.2 + 0.9 * sqrt(-2 * ln(1 - x.u_prompt1)) * cos(2 * pi() * x.u_prompt2)))::int8 as prompt) pr) c
) t`;

const FILL_DECISIONS_SQL = `
insert into decision_log (request_id, ts, provider, endpoint, bu_id, use_case_id, agent_id, session_id, model, allowed,
  http_status, code, message, reasons, policy_revision, budget_tier)
select 'bench-d-' || u.id, u.ts, u.provider, u.endpoint, u.bu_id, u.use_case_id, u.agent_id, u.session_id,
  u.model_served, false, 429, 'budget_exhausted', 'budget exhausted', '[]'::jsonb, 'bench', 'hard_cap'
from usage_events u where u.id % ${Math.round(1 / DENIAL_RATE)} = 0`;

async function fill(db: Db, n: number): Promise<void> {
  await db.raw(PREPARE_SQL);
  // Indexes are built once after the load rather than row by row (the unique ones are kept: they are constraints).
  const secondary = (await db.raw(`select indexname, indexdef from pg_indexes i where tablename = 'usage_events'
    and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`)).rows as { indexname: string; indexdef: string }[];
  for (const ix of secondary) await db.raw(`drop index ${ix.indexname}`);
  await db.raw('set maintenance_work_mem = \'1GB\'');
  for (let lo = 0; lo < n; lo += ROWS_PER_STATEMENT) {
    const started = process.hrtime.bigint();
    const hi = Math.min(n, lo + ROWS_PER_STATEMENT) - 1;
    await db.raw(FILL_SQL, [lo, hi]);
    process.stdout.write(`  filled ${(hi + 1).toLocaleString('en')} / ${n.toLocaleString('en')} (${seconds(started).toFixed(1)} s)\n`);
  }
  // A gateway's ledger is appended as calls happen, so in time order on disk (its ts and accounting_period
  // indexes are block-range ones that rely on it); the fill made sessions in random order, so sort it.
  await db.raw('create index bench_ts on usage_events (ts)');
  await db.raw('cluster usage_events using bench_ts');
  await db.raw('drop index bench_ts');
  for (const ix of secondary) await db.raw(ix.indexdef);
  await db.raw(FILL_DECISIONS_SQL);
  await db.raw('drop table bench_agents, bench_prices');
}

async function buildRollups(db: Db): Promise<void> {
  await db.raw('set work_mem = \'256MB\'');
  await db.raw(USAGE_ROLLUP_FROM_LEDGER);
  await db.raw(USAGE_MONTHLY_FROM_HOURLY);
  await db.raw(DECISION_ROLLUP_FROM_LOG);
  await db.raw('vacuum analyze usage_events');
  await db.raw('vacuum analyze usage_hourly');
  await db.raw('vacuum analyze usage_monthly');
  await db.raw('vacuum analyze decisions_hourly');
}

const CHARGEBACK_QUERY = `query($period: String!) {
  chargeback(period: $period, groupBy: [BU, USE_CASE]) {
    currency
    rows { key { bu useCase } calls inputTokens cachedInputTokens cacheWriteTokens outputTokens cost share }
    totals { calls cost }
    denied { calls }
  }
}`;

const LEDGER_SCAN_SQL = `
select bu_id, use_case_id, count(*) as calls, sum(input_tokens) as input_tokens, sum(cached_input_tokens) as cached_input_tokens,
  sum(cache_write_tokens) as cache_write_tokens, sum(output_tokens) as output_tokens, sum(cost) as cost
from usage_events where ts >= ? and ts < ?
group by 1, 2 order by 1, 2`;

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

type GqlBody = { data?: { chargeback: { rows: { calls: string; cost: string }[]; totals: { calls: string; cost: string } } }; errors?: unknown[] };

async function main() {
  console.log(`chargeback bench: ${EVENTS.toLocaleString('en')} synthetic events over 2026, month ${MONTH}, ${QUERIES} queries each, node ${process.version}, ${os.cpus().length} cpus`);
  const bench = await createBenchDb();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-chargeback-'));
  try {
    const t0 = process.hrtime.bigint();
    await fill(bench.db, EVENTS);
    const fillSeconds = seconds(t0);
    const t1 = process.hrtime.bigint();
    await buildRollups(bench.db);
    const rollupSeconds = seconds(t1);
    const hourly = (await bench.db('usage_hourly').count<{ n: string }[]>({ n: '*' }))[0]!.n;
    console.log(`fill     ${EVENTS.toLocaleString('en')} events in ${fillSeconds.toFixed(1)} s (${(EVENTS / fillSeconds).toFixed(0)}/s, indexes included); rollups from the ledger in ${rollupSeconds.toFixed(1)} s (${Number(hourly).toLocaleString('en')} usage_hourly rows)`);

    const config = loadConfig({
      DATABASE_URL: bench.url, TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ROLE: 'analytics', TOLLGATE_POLICY_WATCH: false, LOG_LEVEL: 'silent',
    });
    const app = await buildApp(config, false);
    try {
      const token = generateApiToken();
      await insertApiToken(app.tollgate.db, { id: token.id, hash: token.hash, prefix: token.prefix, role: 'finance', label: 'bench' });
      const graphql = async () => {
        const res = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${token.token}` }, payload: { query: CHARGEBACK_QUERY, variables: { period: MONTH } } });
        const body = res.json<GqlBody>();
        if (res.statusCode !== 200 || body.errors) throw new Error(`chargeback answered ${res.statusCode}: ${res.body.slice(0, 500)}`);
        return body.data!.chargeback;
      };
      const from = new Date(`${MONTH}-01T00:00:00Z`);
      const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
      const scan = () => bench.db.raw(LEDGER_SCAN_SQL, [from.toISOString(), to.toISOString()]);

      // Same answer both ways, or the timing compares different work.
      const report = await graphql();
      const ledger = (await scan()).rows as { calls: string; cost: string }[];
      const ledgerCalls = ledger.reduce((n, r) => n + BigInt(r.calls), 0n);
      if (BigInt(report.totals.calls) !== ledgerCalls || report.rows.length !== ledger.length) {
        throw new Error(`rollups disagree with the ledger: ${report.totals.calls} calls in ${report.rows.length} rows vs ${ledgerCalls} in ${ledger.length}`);
      }
      console.log(`month    ${MONTH}: ${ledgerCalls.toLocaleString('en')} calls in ${ledger.length} BU × use case rows, cost ${report.totals.cost} (rollups = ledger)`);

      const gql = await timed(QUERIES, graphql);
      const base = await timed(QUERIES, scan);
      const p95Met = pct(gql, 0.95) <= 50;
      const ratio = pct(base, 0.95) / pct(gql, 0.95);
      console.log(`chargeback GraphQL (rollups)  p50 ${ms(pct(gql, 0.5))}  p95 ${ms(pct(gql, 0.95))}  (target p95 ≤ 50 ms: ${p95Met ? 'met' : 'NOT met'})`);
      console.log(`ledger GROUP BY (baseline)    p50 ${ms(pct(base, 0.5))}  p95 ${ms(pct(base, 0.95))}`);
      console.log(`ratio    p50 ×${(pct(base, 0.5) / pct(gql, 0.5)).toFixed(1)}  p95 ×${ratio.toFixed(1)} faster through GraphQL (target ≥ 50×: ${ratio >= 50 ? 'met' : 'NOT met'})`);
    } finally {
      await app.close();
    }
  } finally {
    await bench.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
