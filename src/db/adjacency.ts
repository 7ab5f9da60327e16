import type { Knex } from 'knex';
import type { AdjacencyAlert, AlertSide } from '../adjacency/types.js';

/**
 * Stored adjacency runs and the alerts they raise, with the alerts' lifecycle
 * (open → acknowledged → escalated → resolved; each step recorded with who, when and a note).
 */

type Conn = Knex | Knex.Transaction;

export const ALERT_STATUSES = ['open', 'acknowledged', 'escalated', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Which status each may move to: acknowledge an open alert, escalate until resolved, resolve anything open. */
export const TRANSITIONS: Readonly<Record<AlertStatus, readonly AlertStatus[]>> = Object.freeze({
  open: ['acknowledged', 'escalated', 'resolved'],
  acknowledged: ['escalated', 'resolved'],
  escalated: ['resolved'],
  resolved: [],
});

export type AlertLifecycleErrorCode = 'alert_not_found' | 'invalid_transition' | 'missing_actor';

export class AlertLifecycleError extends Error {
  constructor(readonly code: AlertLifecycleErrorCode, message: string) {
    super(message);
    this.name = 'AlertLifecycleError';
  }
}

export type RunInsert = {
  period: string | null; from: Date; to: Date; startedAt: Date; finishedAt: Date; triggeredBy: string;
  options: object; result: object; alertsRaised: number; alertsNew: number;
};

export type RunRow = {
  id: number; period: string | null; from_ts: Date; to_ts: Date; started_at: Date; finished_at: Date; triggered_by: string;
  options: Record<string, unknown>; result: Record<string, unknown>; alerts_raised: number; alerts_new: number;
};

export type AlertRow = {
  id: number; key: string; period: string; status: AlertStatus; pair: string[]; bus: string[]; weight: number; signals: string[];
  evidence: Record<string, unknown>; sides: StoredSide[]; first_seen_at: Date; last_seen_at: Date; runs: number;
  first_run_id: number; last_run_id: number;
};

/** A side as stored: spend and budget as exact decimals (the analysis computes with numbers). */
export type StoredSide = Omit<AlertSide, 'spend' | 'budget'> & { spend: string; budget: string | null };
export type AlertInsert = Pick<AdjacencyAlert, 'pair' | 'weight' | 'signals' | 'evidence'> & { sides: StoredSide[] };

export type TransitionRow = { id: number; alert_id: number; from_status: AlertStatus | null; to_status: AlertStatus; by: string; at: Date; note: string | null };

export async function insertRun(trx: Conn, run: RunInsert): Promise<RunRow> {
  const [row] = (await trx('adjacency_runs').insert({
    period: run.period, from_ts: run.from, to_ts: run.to, started_at: run.startedAt, finished_at: run.finishedAt, triggered_by: run.triggeredBy,
    options: JSON.stringify(run.options), result: JSON.stringify(run.result), alerts_raised: run.alertsRaised, alerts_new: run.alertsNew,
  }).returning('*')) as RunRow[];
  return runOut(row!);
}

export async function setRunCounts(trx: Conn, id: number, counts: { raised: number; new: number }): Promise<void> {
  await trx('adjacency_runs').where({ id }).update({ alerts_raised: counts.raised, alerts_new: counts.new });
}

/** The latest run of a month, or null. */
export async function latestRun(db: Conn, period: string): Promise<RunRow | null> {
  const row = (await db('adjacency_runs').where({ period }).orderBy('id', 'desc').first()) as RunRow | undefined;
  return row ? runOut(row) : null;
}

export function alertKeyOf(period: string, pair: readonly [string, string]): string {
  return `adjacency:${period}:${[...pair].sort().join('|')}`;
}

/**
 * Inserts new alerts (status open) and refreshes known ones (last seen, runs + 1, this run's weight, signals,
 * evidence and sides) without touching their status: an alert the council resolved stays resolved when the
 * same pair shows up again in the same month. `inserted` says which ones are new (xmax = 0 on an insert).
 */
export async function upsertAlerts(trx: Conn, runId: number, period: string, alerts: readonly AlertInsert[], at: Date): Promise<(AlertRow & { inserted: boolean })[]> {
  if (alerts.length === 0) return [];
  const rows = alerts.map((a) => ({
    key: alertKeyOf(period, a.pair), period, status: 'open', pair: a.pair, bus: a.sides.map((s) => s.bu), weight: a.weight, signals: a.signals,
    evidence: JSON.stringify(a.evidence), sides: JSON.stringify(a.sides), first_seen_at: at, last_seen_at: at, runs: 1, first_run_id: runId, last_run_id: runId,
  }));
  const result = (await trx('adjacency_alerts').insert(rows)
    .onConflict('key')
    .merge({
      last_seen_at: trx.raw('excluded.last_seen_at'), runs: trx.raw('adjacency_alerts.runs + 1'), last_run_id: trx.raw('excluded.last_run_id'),
      weight: trx.raw('excluded.weight'), signals: trx.raw('excluded.signals'), evidence: trx.raw('excluded.evidence'), sides: trx.raw('excluded.sides'),
      bus: trx.raw('excluded.bus'), updated_at: trx.fn.now(),
    })
    .returning(['*', trx.raw('(xmax = 0) as inserted')])) as (AlertRow & { inserted: boolean })[];
  return result.map((r) => ({ ...alertOut(r), inserted: Boolean(r.inserted) }));
}

export async function insertTransitions(trx: Conn, rows: readonly Omit<TransitionRow, 'id' | 'at'>[]): Promise<void> {
  if (rows.length > 0) await trx('adjacency_alert_transitions').insert(rows);
}

export type AlertFilter = { status?: readonly AlertStatus[]; period?: string; bu?: string; first?: number };

/** Newest first. */
export async function listAlerts(db: Conn, filter: AlertFilter = {}): Promise<AlertRow[]> {
  const q = db('adjacency_alerts').select('*').orderBy('id', 'desc').limit(filter.first ?? 50);
  if (filter.status?.length) q.whereIn('status', filter.status);
  if (filter.period) q.where('period', filter.period);
  if (filter.bu) q.whereRaw('? = any(bus)', [filter.bu]);
  return ((await q) as AlertRow[]).map(alertOut);
}

export async function alertsByIds(db: Conn, ids: readonly number[]): Promise<AlertRow[]> {
  if (ids.length === 0) return [];
  return ((await db('adjacency_alerts').whereIn('id', ids).select('*')) as AlertRow[]).map(alertOut);
}

/** The transitions of these alerts, oldest first. */
export async function transitionsOf(db: Conn, alertIds: readonly number[]): Promise<TransitionRow[]> {
  if (alertIds.length === 0) return [];
  const rows = (await db('adjacency_alert_transitions').whereIn('alert_id', alertIds).orderBy('id')) as TransitionRow[];
  return rows.map((r) => ({ ...r, id: Number(r.id), alert_id: Number(r.alert_id) }));
}

/** Moves an alert to `to` if its current status allows it, recording who, when and why; serialized per alert. */
export async function transitionAlert(db: Knex, input: { id: number; to: AlertStatus; by: string; note: string | null }): Promise<AlertRow> {
  if (!input.by.trim()) throw new AlertLifecycleError('missing_actor', 'say who acts on the alert');
  return db.transaction(async (trx) => {
    const current = (await trx('adjacency_alerts').where({ id: input.id }).forUpdate().first()) as AlertRow | undefined;
    if (!current) throw new AlertLifecycleError('alert_not_found', `no adjacency alert ${input.id}`);
    if (!TRANSITIONS[current.status].includes(input.to)) {
      throw new AlertLifecycleError('invalid_transition', `alert ${input.id} is ${current.status}; it cannot become ${input.to}`);
    }
    const [row] = (await trx('adjacency_alerts').where({ id: input.id }).update({ status: input.to, updated_at: trx.fn.now() }).returning('*')) as AlertRow[];
    await insertTransitions(trx, [{ alert_id: input.id, from_status: current.status, to_status: input.to, by: input.by, note: input.note }]);
    return alertOut(row!);
  });
}

// pg parses jsonb and int8 (see knex.ts); knex-pglite may hand jsonb back as text.
function json<T>(v: T | string): T {
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}

function runOut(r: RunRow): RunRow {
  return { ...r, id: Number(r.id), options: json(r.options), result: json(r.result) };
}

function alertOut(r: AlertRow): AlertRow {
  return {
    ...r, id: Number(r.id), weight: Number(r.weight), runs: Number(r.runs), first_run_id: Number(r.first_run_id), last_run_id: Number(r.last_run_id),
    evidence: json(r.evidence), sides: json(r.sides),
  };
}
