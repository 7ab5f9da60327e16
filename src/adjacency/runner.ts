/**
 * One adjacency run: read the month's rows, analyse them, lay the graph out, store the run, upsert its alerts
 * (de-duplicated by period and pair) and queue the council's webhook for the alerts that are new, all in one
 * transaction under an advisory lock, so that replicas and on-demand runs never interleave. The webhook is
 * an outbox row: the notifier worker delivers it later, so delivery never holds a run.
 */
import type { Knex } from 'knex';
import { CURRENCY } from '../analytics/chargeback.js';
import { alertKeyOf, insertRun, type AlertInsert, insertTransitions, setRunCounts, upsertAlerts, type AlertRow, type RunRow } from '../db/adjacency.js';
import { readAdjacencyRows, type MonthRows } from '../db/adjacency-rows.js';
import { loadCouncil } from '../db/catalog.js';
import { insertAlertOutbox } from '../db/notifications.js';
import { sum, toMoney } from '../metering/money.js';
import { analyzeAdjacency, type AdjacencyAlert, type Analysis, type AnalysisOptions } from './index.js';
import { layoutGraph } from './layout.js';
import { buildAlertPayload } from './payload.js';
import { monthOf, parseMonth, type Month } from './period.js';

/** Any constant shared by every replica: the key of the advisory lock runs take. */
export const ADJACENCY_LOCK_KEY = 7_340_021_505;

export type RunRequest = {
  /** YYYY-MM; default: the month of `now`. */
  period?: string;
  /** 'schedule', 'cli:<user>', or the API token's label or id. */
  triggeredBy: string;
  options?: AnalysisOptions;
  /** 'wait' (default) queues behind a run in progress; 'try' gives up at once (the schedule's replicas). */
  lock?: 'wait' | 'try';
  now?: () => Date;
};

export type RunSummary = {
  run: RunRow;
  nodes: number;
  edges: number;
  communities: number;
  alerts: { raised: number; new: number; known: number; ids: number[] };
};

export type StoredNode = { id: string; bu: string; class: string; spend: string; community: number | null; x: number; y: number };
export type StoredCommunity = { id: number; useCases: string[]; bus: string[]; spend: string };
export type StoredResult = { currency: string; nodes: StoredNode[]; edges: Analysis['edges']; communities: StoredCommunity[] };

/** Runs the analysis; null when `lock: 'try'` found another run in progress. */
export async function runAdjacency(db: Knex, request: RunRequest): Promise<RunSummary | null> {
  const now = request.now ?? (() => new Date());
  const month = request.period === undefined ? monthOf(now()) : parseMonth(request.period);
  return db.transaction(async (trx) => {
    if (!(await takeLock(trx, request.lock ?? 'wait'))) return null;
    const startedAt = now();
    const rows = await readAdjacencyRows(trx, month);
    const analysis = analyzeAdjacency(rows, request.options);
    const result = storedResult(rows, analysis);
    const run = await insertRun(trx, {
      period: month.period, from: month.from, to: month.to, startedAt, finishedAt: now(), triggeredBy: request.triggeredBy,
      options: request.options ?? {}, result, alertsRaised: analysis.alerts.length, alertsNew: 0,
    });
    const alerts = await upsertAlerts(trx, run.id, month.period, analysis.alerts.map((a) => storedAlert(a, rows)), run.finished_at);
    const fresh = alerts.filter((a) => a.inserted);
    await recordNew(trx, { run, month, rows, analysis, fresh, triggeredBy: request.triggeredBy });
    await setRunCounts(trx, run.id, { raised: alerts.length, new: fresh.length });
    return {
      run: { ...run, alerts_new: fresh.length },
      nodes: result.nodes.length, edges: result.edges.length, communities: result.communities.length,
      alerts: { raised: alerts.length, new: fresh.length, known: alerts.length - fresh.length, ids: alerts.map((a) => a.id) },
    };
  });
}

async function takeLock(trx: Knex.Transaction, mode: 'wait' | 'try'): Promise<boolean> {
  if (mode === 'wait') {
    await trx.raw('select pg_advisory_xact_lock(?)', [ADJACENCY_LOCK_KEY]);
    return true;
  }
  const { rows } = (await trx.raw('select pg_try_advisory_xact_lock(?) as ok', [ADJACENCY_LOCK_KEY])) as { rows: { ok: boolean }[] };
  return rows[0]!.ok;
}

type NewAlerts = { run: RunRow; month: Month; rows: MonthRows; analysis: Analysis; fresh: AlertRow[]; triggeredBy: string };

/** A new alert opens (its first transition) and goes to the council's webhook, if the catalog has one. */
async function recordNew(trx: Knex.Transaction, n: NewAlerts): Promise<void> {
  if (n.fresh.length === 0) return;
  await insertTransitions(trx, n.fresh.map((a) => ({ alert_id: a.id, from_status: null, to_status: 'open', by: n.triggeredBy, note: `raised by run ${n.run.id}` })));
  const council = await loadCouncil(trx);
  const byKey = new Map(n.analysis.alerts.map((a) => [alertKeyOf(n.month.period, a.pair), a]));
  await insertAlertOutbox(trx, n.fresh.map((row) => {
    const alert = byKey.get(row.key)!;
    const spend = alert.sides.map((s) => toMoney(n.rows.exactSpend.get(s.useCase) ?? '0')) as [string, string];
    return {
      alert_id: row.id, target_url: council?.webhook_url ?? null, email: council?.email ?? null,
      payload: buildAlertPayload({ alertId: row.id, key: row.key, period: n.month.period, runId: n.run.id, alert, spend, currency: CURRENCY, at: n.run.finished_at.toISOString() }),
    };
  }));
}

function storedAlert(a: AdjacencyAlert, rows: MonthRows): AlertInsert {
  return {
    pair: a.pair, weight: a.weight, signals: a.signals, evidence: a.evidence,
    sides: a.sides.map((s) => ({ ...s, spend: toMoney(rows.exactSpend.get(s.useCase) ?? '0'), budget: s.budget === null ? null : s.budget.toFixed(12) })),
  };
}

/** What a run keeps for the council's page: nodes with exact spend, community and position; edges; communities. */
export function storedResult(rows: MonthRows, analysis: Analysis): StoredResult {
  const positions = layoutGraph(analysis.graph);
  const communityOf = new Map(analysis.communities.flatMap((c) => c.useCases.map((u) => [u, c.id] as const)));
  const spendOf = (id: string) => toMoney(rows.exactSpend.get(id) ?? '0');
  return {
    currency: CURRENCY,
    nodes: analysis.graph.mapNodes((id, a) => ({
      id, bu: a.bu, class: a.class, spend: spendOf(id), community: communityOf.get(id) ?? null, x: positions.get(id)!.x, y: positions.get(id)!.y,
    })),
    edges: analysis.edges,
    communities: analysis.communities.map((c) => ({ id: c.id, useCases: c.useCases, bus: c.bus, spend: toMoney(sum(c.useCases.map(spendOf))) })),
  };
}
