import type { Knex } from 'knex';
import type { Db } from './knex.js';
import type { ReportProvider, ReportRow } from '../reconcile/types.js';

/** Reconciliation runs, the providers' figures per day (shadow_report_*), the ledger's per day, and shadow-spend notices. */

type Conn = Db | Knex.Transaction;

export type RunSource = 'api' | 'file';
export type RunStatus = 'running' | 'done' | 'failed';
export type RunRow = {
  id: number; provider: ReportProvider; from_day: string; to_day: string; source: RunSource; triggered_by: string;
  status: RunStatus; started_at: Date; finished_at: Date | null; pages: number; rows: number; error: string | null;
};

// Any constant shared by every replica: claims of a run serialize on it (the adjacency lock's neighbour).
export const RECONCILE_LOCK_KEY = 7_340_021_506;
const RUN_COLUMNS = `id, provider, from_day::text as from_day, to_day::text as to_day, source, triggered_by, status, started_at, finished_at, pages, rows, error`;

export type RunClaim = { provider: ReportProvider; fromDay: string; toDay: string; source: RunSource; triggeredBy: string; leaseMs: number };

/**
 * Starts a run of `provider` unless one is running (its lease not yet over): then null. The claim is a row, not
 * a lock held over the HTTP pages (PGlite has one connection), so one run per provider at a time, on any replica.
 */
export async function claimRun(db: Db, c: RunClaim): Promise<RunRow | null> {
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [RECONCILE_LOCK_KEY]);
    const busy = await trx('reconcile_runs').where({ provider: c.provider, status: 'running' }).andWhere('lease_until', '>', trx.fn.now()).first('id');
    if (busy) return null;
    const [inserted] = (await trx('reconcile_runs').insert({
      provider: c.provider, from_day: c.fromDay, to_day: c.toDay, source: c.source, triggered_by: c.triggeredBy,
      lease_until: trx.raw(`now() + (? * interval '1 millisecond')`, [c.leaseMs]),
    }).returning('id')) as { id: number | string }[];
    const row = (await trx('reconcile_runs').where({ id: inserted!.id }).first(trx.raw(RUN_COLUMNS))) as RunRow;
    return toRun(row);
  });
}

export async function finishRun(trx: Conn, id: number, counts: { pages: number; rows: number }): Promise<void> {
  await trx('reconcile_runs').where({ id }).update({ status: 'done', finished_at: trx.fn.now(), ...counts });
}

export async function failRun(db: Conn, id: number, error: string): Promise<void> {
  await db('reconcile_runs').where({ id }).update({ status: 'failed', finished_at: db.fn.now(), error: error.slice(0, 2000) });
}

export async function listRuns(db: Conn, filter: { provider?: ReportProvider; limit?: number } = {}): Promise<RunRow[]> {
  const q = db('reconcile_runs').select(db.raw(RUN_COLUMNS)).orderBy('id', 'desc').limit(filter.limit ?? 20);
  if (filter.provider) q.where({ provider: filter.provider });
  return ((await q) as RunRow[]).map(toRun);
}

/** The catalog's model ids of a provider: what a report's model ids are mapped to (src/reconcile/models.ts). */
export async function catalogModelIds(db: Conn, provider: ReportProvider): Promise<string[]> {
  return (await db('models').where({ provider_id: provider }).orderBy('id').pluck('id')) as string[];
}

/** The provider's model aliases and dated snapshots, each with the catalog model it names. */
export async function catalogModelAliases(db: Conn, provider: ReportProvider): Promise<Map<string, string>> {
  const rows = (await db('model_aliases').where({ provider_id: provider }).select('alias', 'model_id')) as { alias: string; model_id: string }[];
  return new Map(rows.map((r) => [r.alias, r.model_id]));
}

const INSERT_CHUNK = 1000;

/** The run's days become exactly `rows` (a covered day without rows billed nothing). One transaction: the caller's. */
export async function replaceReportDays(trx: Knex.Transaction, run: { id: number; provider: ReportProvider }, days: readonly string[], rows: readonly ReportRow[]): Promise<void> {
  await trx('shadow_report_rows').where({ provider: run.provider }).whereIn('day', days as string[]).delete();
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await trx('shadow_report_rows').insert(rows.slice(i, i + INSERT_CHUNK).map((r) => ({
      provider: run.provider, day: r.day, model: r.model, reported_model: r.reportedModel, api_key_id: r.apiKeyId, scope_id: r.scopeId,
      cost: r.cost, cost_source: r.costSource, input_tokens: r.tokens.input, cached_input_tokens: r.tokens.cachedInput,
      cache_write_tokens: r.tokens.cacheWrite, output_tokens: r.tokens.output, requests: r.requests, run_id: run.id,
    })));
  }
  if (days.length === 0) return;
  await trx('shadow_report_days')
    .insert(days.map((day) => ({ provider: run.provider, day, run_id: run.id, fetched_at: trx.fn.now() })))
    .onConflict(['provider', 'day']).merge(['run_id', 'fetched_at']);
}

export type DayRange = { provider?: ReportProvider; from: string; to: string };

export type StoredReportRow = ReportRow & { provider: ReportProvider };

/** The providers' rows for [from, to) (days, YYYY-MM-DD). */
export async function readReportRows(db: Conn, r: DayRange): Promise<StoredReportRow[]> {
  const q = db('shadow_report_rows').select(db.raw(`provider, day::text as day, model, reported_model, api_key_id, scope_id, cost::text as cost, cost_source,
      input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, requests`))
    .where('day', '>=', r.from).andWhere('day', '<', r.to).orderBy(['provider', 'day', 'model', 'api_key_id', 'scope_id', 'reported_model']);
  if (r.provider) q.andWhere({ provider: r.provider });
  const rows = (await q) as Record<string, string | number>[];
  return rows.map((x) => ({
    provider: x.provider as ReportProvider, day: String(x.day), model: String(x.model), reportedModel: String(x.reported_model),
    apiKeyId: String(x.api_key_id), scopeId: String(x.scope_id), cost: String(x.cost), costSource: x.cost_source as ReportRow['costSource'],
    tokens: { input: Number(x.input_tokens), cachedInput: Number(x.cached_input_tokens), cacheWrite: Number(x.cache_write_tokens), output: Number(x.output_tokens) },
    requests: Number(x.requests),
  }));
}

export type CoveredDay = { provider: ReportProvider; day: string; runId: number; fetchedAt: Date };

export async function readCoveredDays(db: Conn, r: DayRange): Promise<CoveredDay[]> {
  const q = db('shadow_report_days').select(db.raw('provider, day::text as day, run_id, fetched_at'))
    .where('day', '>=', r.from).andWhere('day', '<', r.to).orderBy(['provider', 'day']);
  if (r.provider) q.andWhere({ provider: r.provider });
  const rows = (await q) as { provider: ReportProvider; day: string; run_id: number | string; fetched_at: Date }[];
  return rows.map((x) => ({ provider: x.provider, day: x.day, runId: Number(x.run_id), fetchedAt: new Date(x.fetched_at) }));
}

export type LedgerDay = { provider: string; day: string; model: string; cost: string; calls: number; input: number; cachedInput: number; cacheWrite: number; output: number };

/** What the ledger metered per UTC day × provider × model, from the hourly rollup (never the ledger itself). */
export async function readLedgerDays(db: Conn, r: DayRange): Promise<LedgerDay[]> {
  const q = db('usage_hourly').select(db.raw(`to_char(hour at time zone 'UTC', 'YYYY-MM-DD') as day, provider, model_served as model,
      sum(cost)::text as cost, sum(calls)::text as calls, sum(input_tokens)::text as input, sum(cached_input_tokens)::text as cached,
      sum(cache_write_tokens)::text as write, sum(output_tokens)::text as output`))
    .where('hour', '>=', `${r.from}T00:00:00Z`).andWhere('hour', '<', `${r.to}T00:00:00Z`)
    .groupByRaw('1, 2, 3').orderByRaw('1, 2, 3');
  if (r.provider) q.andWhere({ provider: r.provider });
  const rows = (await q) as Record<string, string>[];
  return rows.map((x) => ({
    provider: x.provider!, day: x.day!, model: x.model!, cost: x.cost!, calls: Number(x.calls),
    input: Number(x.input), cachedInput: Number(x.cached), cacheWrite: Number(x.write), output: Number(x.output),
  }));
}

export type NoticeInsert = { provider: ReportProvider; day: string; reported: string; metered: string; difference: string; threshold: string; run_id: number };
export type NoticeRow = NoticeInsert & { id: number; created_at: Date };
const NOTICE_COLUMNS = 'id, provider, day::text as day, reported::text as reported, metered::text as metered, difference::text as difference, threshold::text as threshold, run_id, created_at';

/** Records the notices not already recorded (one per provider × day, ever) and returns only those. */
export async function insertShadowNotices(trx: Knex.Transaction, notices: readonly NoticeInsert[]): Promise<NoticeRow[]> {
  if (notices.length === 0) return [];
  const ids = ((await trx('shadow_spend_notices').insert(notices).onConflict(['provider', 'day']).ignore().returning('id')) as { id: number | string }[]).map((r) => r.id);
  if (ids.length === 0) return [];
  const rows = (await trx('shadow_spend_notices').whereIn('id', ids).orderBy('id')
    .select(trx.raw(`${NOTICE_COLUMNS}`))) as NoticeRow[];
  return rows.map((r) => ({ ...r, id: Number(r.id), run_id: Number(r.run_id) }));
}

/** Finance's copy of each notice, in the outbox the notifier delivers (status no_target without a webhook URL). */
export async function insertShadowOutbox(trx: Knex.Transaction, rows: readonly { shadow_notice_id: number; target_url: string | null; payload: object }[]): Promise<void> {
  if (rows.length === 0) return;
  await trx('notification_outbox')
    .insert(rows.map((r) => ({ ...r, recipient: 'finance', status: r.target_url ? 'pending' : 'no_target', payload: JSON.stringify(r.payload) })))
    .onConflict(['shadow_notice_id', 'recipient']).ignore();
}

export type NoticeView = NoticeRow & { delivery: { status: string; attempts: number; last_error: string | null; delivered_at: Date | null } | null };

export async function listShadowNotices(db: Conn, r: DayRange): Promise<NoticeView[]> {
  const q = db('shadow_spend_notices as n').leftJoin('notification_outbox as o', 'o.shadow_notice_id', 'n.id')
    .select(db.raw(`n.id, n.provider, n.day::text as day, n.reported::text as reported, n.metered::text as metered, n.difference::text as difference,
      n.threshold::text as threshold, n.run_id, n.created_at, o.status, o.attempts, o.last_error, o.delivered_at`))
    .where('n.day', '>=', r.from).andWhere('n.day', '<', r.to).orderBy(['n.day', 'n.provider']);
  if (r.provider) q.andWhere('n.provider', r.provider);
  const rows = (await q) as (NoticeRow & { status: string | null; attempts: number | null; last_error: string | null; delivered_at: Date | null })[];
  return rows.map(({ status, attempts, last_error, delivered_at, ...n }) => ({
    ...n, id: Number(n.id), run_id: Number(n.run_id),
    delivery: status === null ? null : { status, attempts: Number(attempts ?? 0), last_error, delivered_at },
  }));
}

function toRun(r: RunRow): RunRow {
  return { ...r, id: Number(r.id), pages: Number(r.pages), rows: Number(r.rows) };
}
