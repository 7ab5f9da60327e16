import type { Knex } from 'knex';
import { costPerOutcome, type CostPerOutcome, type OutcomeDirection, type OutcomePoint } from '../analytics/outcomes.js';
import { toMoney } from '../metering/money.js';
import type { Db } from './knex.js';

/**
 * outcome_points: one value per (use case, metric, time). Writing a point again is idempotent: the same
 * value is a no-op (ingested_at kept), a different value replaces the old one (last write wins) and is
 * counted as updated.
 */

export type OutcomePointInput = { useCaseId: string; metric: string; ts: Date; value: string; source?: string };
export type UpsertCounts = { inserted: number; updated: number; unchanged: number };

export const POINTS_PER_STATEMENT = 5000;

// `xmax = 0` tells a fresh insert from an update of an existing row; the WHERE skips equal values, so an
// unchanged point returns no row at all.
const UPSERT_SQL = `
with ins as (
  insert into outcome_points as o (use_case_id, metric, ts, value, source)
  select * from unnest(?::text[], ?::text[], ?::timestamptz[], ?::numeric[], ?::text[])
  on conflict (use_case_id, metric, ts) do update
    set value = excluded.value, source = excluded.source, ingested_at = now()
    where o.value is distinct from excluded.value
  returning (xmax = 0) as fresh
)
select count(*) filter (where fresh)::int as inserted, count(*) filter (where not fresh)::int as updated from ins`;

/** Upserts points in statements of POINTS_PER_STATEMENT; within one call a repeated key keeps its last value. */
export async function upsertOutcomePoints(db: Db | Knex.Transaction, points: readonly OutcomePointInput[]): Promise<UpsertCounts> {
  const unique = lastPerKey(points);
  const counts: UpsertCounts = { inserted: 0, updated: 0, unchanged: 0 };
  for (let i = 0; i < unique.length; i += POINTS_PER_STATEMENT) {
    const chunk = unique.slice(i, i + POINTS_PER_STATEMENT);
    const arrays = [chunk.map((p) => p.useCaseId), chunk.map((p) => p.metric), chunk.map((p) => p.ts), chunk.map((p) => p.value), chunk.map((p) => p.source ?? 'api')];
    const result = (await db.raw(UPSERT_SQL, arrays as unknown as Knex.RawBinding[])) as { rows: { inserted: number; updated: number }[] };
    const row = result.rows[0] ?? { inserted: 0, updated: 0 };
    counts.inserted += row.inserted;
    counts.updated += row.updated;
  }
  counts.unchanged = points.length - counts.inserted - counts.updated;
  return counts;
}

export type UseCaseOutcome = { id: string; bu_id: string; outcome_metric: string | null; outcome_unit: string | null; outcome_direction: OutcomeDirection };

export async function useCaseOutcomes(db: Db): Promise<Map<string, UseCaseOutcome>> {
  const rows = (await db('use_cases').select('id', 'bu_id', 'outcome_metric', 'outcome_unit', 'outcome_direction')) as UseCaseOutcome[];
  return new Map(rows.map((r) => [r.id, r]));
}

export type MetricWindow = { hasPoints: boolean; start: OutcomePoint | null; end: OutcomePoint | null };

/** The metric's last point at or before `from`, and its last point in (from, to]. */
export async function metricWindow(db: Db, useCaseId: string, metric: string, period: { from: Date; to: Date }): Promise<MetricWindow> {
  const base = () => db('outcome_points').where({ use_case_id: useCaseId, metric });
  const pick = (q: Knex.QueryBuilder) => q.select('ts', db.raw('value::text as value')).orderBy('ts', 'desc').first() as Promise<OutcomePoint | undefined>;
  const [start, end, any] = await Promise.all([
    pick(base().where('ts', '<=', period.from)),
    pick(base().where('ts', '>', period.from).andWhere('ts', '<=', period.to)),
    base().first(db.raw('1 as one')),
  ]);
  return { hasPoints: any !== undefined, start: start ?? null, end: end ?? null };
}

export type OutcomePointRow = { use_case_id: string; metric: string; ts: Date; value: string; source: string; ingested_at: Date };

export async function listOutcomePoints(db: Db, useCaseId: string, metric?: string): Promise<OutcomePointRow[]> {
  const q = db('outcome_points').select('use_case_id', 'metric', 'ts', db.raw('value::text as value'), 'source', 'ingested_at').where({ use_case_id: useCaseId }).orderBy(['metric', 'ts']);
  if (metric !== undefined) q.where({ metric });
  return (await q) as OutcomePointRow[];
}

function lastPerKey(points: readonly OutcomePointInput[]): OutcomePointInput[] {
  const byKey = new Map<string, OutcomePointInput>();
  for (const p of points) {
    const key = `${p.useCaseId}\u0000${p.metric}\u0000${p.ts.getTime()}`;
    byKey.delete(key); // re-insert so the map keeps the last occurrence's position
    byKey.set(key, p);
  }
  return [...byKey.values()];
}

export type CostPerOutcomeReport = CostPerOutcome & {
  useCaseId: string;
  buId: string;
  metric: string | null;
  unit: string | null;
  direction: OutcomeDirection;
  from: Date;
  to: Date;
};

/** Cost per outcome of one use case for [from, to); the metric defaults to the catalog's outcome_metric. */
export async function loadCostPerOutcome(db: Db, useCaseId: string, period: { from: Date; to: Date }, metric?: string): Promise<CostPerOutcomeReport | null> {
  const uc = (await db('use_cases').where({ id: useCaseId }).first('id', 'bu_id', 'outcome_metric', 'outcome_unit', 'outcome_direction')) as UseCaseOutcome | undefined;
  if (!uc) return null;
  const name = metric ?? uc.outcome_metric;
  const direction = uc.outcome_direction === 'decrease' ? 'decrease' : 'increase';
  const [cost, window] = await Promise.all([
    useCaseCost(db, useCaseId, period),
    name ? metricWindow(db, useCaseId, name, period) : Promise.resolve({ hasPoints: false, start: null, end: null }),
  ]);
  const result = costPerOutcome({ cost, direction, ...window });
  return { ...result, useCaseId, buId: uc.bu_id, metric: name ?? null, unit: name === uc.outcome_metric ? uc.outcome_unit : null, direction, from: period.from, to: period.to };
}

// From the hourly rollups (migration 010), never the ledger: periods here are months, so whole hours.
async function useCaseCost(db: Db, useCaseId: string, period: { from: Date; to: Date }): Promise<string> {
  const row = (await db('usage_hourly').where('use_case_id', useCaseId).andWhere('hour', '>=', period.from).andWhere('hour', '<', period.to)
    .first(db.raw('coalesce(sum(cost), 0)::text as cost'))) as { cost: string };
  return toMoney(row.cost);
}
