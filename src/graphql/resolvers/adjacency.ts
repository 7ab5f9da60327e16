import type { Knex } from 'knex';
import { monthOf, parseMonth, PeriodError, type Month } from '../../adjacency/period.js';
import { runAdjacency, type StoredNode, type StoredResult } from '../../adjacency/runner.js';
import { analysisOptionsFrom } from '../../adjacency/schedule.js';
import {
  AlertLifecycleError, alertsByIds, latestRun, listAlerts, transitionAlert, transitionsOf,
  type AlertRow, type AlertStatus, type RunRow, type TransitionRow,
} from '../../db/adjacency.js';
import { listAlertDeliveries } from '../../db/notifications.js';
import { authorize, canSee, requireCaller, type Caller } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';
import { AnalyticsError } from '../errors.js';
import { useCaseOf } from './catalog.js';

/**
 * The council's view: the adjacency graph of a month (the latest stored run, computed on first read), its
 * alerts, and their lifecycle. Runs write through the main pool (no statement timeout: a run is a job, not a
 * report); reads go through the analytics pool.
 */

const MAX_ALERTS = 500;
const SIGNAL_ENUM: Record<string, string> = { classCoupling: 'CLASS_COUPLING', sharedTools: 'SHARED_TOOLS', interactions: 'INTERACTIONS', leadLag: 'LEAD_LAG' };
const upper = (s: string) => s.toUpperCase();
const lower = (s: string) => s.toLowerCase() as AlertStatus;

function month(period: string | null | undefined): Month {
  try {
    return period == null ? monthOf(new Date()) : parseMonth(period);
  } catch (err) {
    if (err instanceof PeriodError) throw new AnalyticsError('BAD_USER_INPUT', err.message, { argument: 'period' });
    throw err;
  }
}

function authorizeAct(caller: Caller | null | undefined): Caller {
  const c = requireCaller(caller);
  if (!canSee(c, 'adjacency:act')) throw new AnalyticsError('FORBIDDEN', `the ${c.role} role cannot act on adjacency alerts (council and admin only)`);
  return c;
}

/** Who acts, as transitions and runs record it: the API token's label, else its id. */
async function actorOf(db: Knex, caller: Caller): Promise<string> {
  const row = (await db('api_tokens').where({ id: caller.tokenId }).first('label')) as { label: string | null } | undefined;
  return row?.label || caller.tokenId;
}

const writeDb = (ctx: GqlContext): Knex => ctx.app.tollgate?.db ?? ctx.db;

async function run(ctx: GqlContext, m: Month, caller: Caller): Promise<RunRow> {
  const options = ctx.app.tollgate ? analysisOptionsFrom(ctx.app.tollgate.config.adjacency) : undefined;
  const summary = await runAdjacency(writeDb(ctx), { period: m.period, triggeredBy: await actorOf(ctx.db, caller), options });
  return summary!.run;
}

type GraphOut = StoredResult & { run: RunRow };

async function adjacency(_: unknown, args: { period?: string | null }, ctx: GqlContext): Promise<GraphOut> {
  const caller = authorize(ctx.caller, 'adjacency');
  const m = month(args.period);
  const stored = (await withTimeout(ctx, () => latestRun(ctx.db, m.period))) ?? (await run(ctx, m, caller));
  return { ...(stored.result as unknown as StoredResult), run: stored };
}

type AlertFilterArgs = { filter?: { status?: string[] | null; period?: string | null; bu?: string | null } | null; first: number };

async function adjacencyAlerts(_: unknown, args: AlertFilterArgs, ctx: GqlContext): Promise<AlertRow[]> {
  authorize(ctx.caller, 'adjacency');
  if (args.first > MAX_ALERTS) throw new AnalyticsError('PAGE_SIZE_EXCEEDED', `first is capped at ${MAX_ALERTS}`, { max: MAX_ALERTS });
  if (args.first < 1) throw new AnalyticsError('BAD_USER_INPUT', 'first must be at least 1');
  const f = args.filter ?? {};
  const period = f.period == null ? undefined : month(f.period).period;
  return withTimeout(ctx, () => listAlerts(ctx.db, { status: f.status?.map(lower), period, bu: f.bu ?? undefined, first: args.first }));
}

function alertId(id: string): number {
  if (!/^\d{1,15}$/.test(id)) throw new AnalyticsError('BAD_USER_INPUT', `"${id}" is not an alert id`, { argument: 'id' });
  return Number(id);
}

async function adjacencyAlert(_: unknown, args: { id: string }, ctx: GqlContext): Promise<AlertRow | null> {
  authorize(ctx.caller, 'adjacency');
  const [row] = await withTimeout(ctx, () => alertsByIds(ctx.db, [alertId(args.id)]));
  return row ?? null;
}

async function runAdjacencyMutation(_: unknown, args: { period?: string | null }, ctx: GqlContext): Promise<RunRow> {
  const caller = authorizeAct(ctx.caller);
  return run(ctx, month(args.period), caller);
}

const LIFECYCLE_CODES = { alert_not_found: 'NOT_FOUND', invalid_transition: 'INVALID_TRANSITION', missing_actor: 'BAD_USER_INPUT' } as const;

function transition(to: AlertStatus) {
  return async (_: unknown, args: { id: string; note?: string | null }, ctx: GqlContext): Promise<AlertRow> => {
    const caller = authorizeAct(ctx.caller);
    const id = alertId(args.id);
    if (to !== 'acknowledged' && !args.note?.trim()) throw new AnalyticsError('BAD_USER_INPUT', 'a note is required', { argument: 'note' });
    try {
      return await transitionAlert(writeDb(ctx), { id, to, by: await actorOf(ctx.db, caller), note: args.note?.trim() || null });
    } catch (err) {
      if (err instanceof AlertLifecycleError) throw new AnalyticsError(LIFECYCLE_CODES[err.code], err.message, { id: args.id });
      throw err;
    }
  };
}

type Query<P> = { obj: P; params: unknown };

export const adjacencyLoaders = {
  AdjacencyNode: { useCase: useCaseOf<StoredNode>((n) => n.id) },
  AdjacencyAlert: {
    history: async (queries: Query<AlertRow>[], ctx: GqlContext) => {
      const rows = await withTimeout(ctx, () => transitionsOf(ctx.db, queries.map((q) => q.obj.id)));
      return queries.map((q) => rows.filter((r) => r.alert_id === q.obj.id));
    },
    deliveries: async (queries: Query<AlertRow>[], ctx: GqlContext) => {
      const rows = await withTimeout(ctx, () => listAlertDeliveries(ctx.db, queries.map((q) => q.obj.id)));
      return queries.map((q) => rows.filter((r) => r.alert_id === q.obj.id));
    },
  },
};

export const adjacencyResolvers = {
  Query: { adjacency, adjacencyAlerts, adjacencyAlert },
  Mutation: {
    runAdjacency: runAdjacencyMutation,
    acknowledgeAlert: transition('acknowledged'),
    escalateAlert: transition('escalated'),
    resolveAlert: transition('resolved'),
  },
  AdjacencyRun: {
    from: (r: RunRow) => r.from_ts,
    to: (r: RunRow) => r.to_ts,
    startedAt: (r: RunRow) => r.started_at,
    finishedAt: (r: RunRow) => r.finished_at,
    triggeredBy: (r: RunRow) => r.triggered_by,
    alertsRaised: (r: RunRow) => r.alerts_raised,
  },
  AdjacencyEdge: { fired: (e: { fired: string[] }) => e.fired.map((s) => SIGNAL_ENUM[s]) },
  AdjacencyAlert: {
    status: (a: AlertRow) => upper(a.status),
    signals: (a: AlertRow) => a.signals.map((s) => SIGNAL_ENUM[s]),
    firstSeenAt: (a: AlertRow) => a.first_seen_at,
    lastSeenAt: (a: AlertRow) => a.last_seen_at,
  },
  AlertTransition: {
    from: (t: TransitionRow) => (t.from_status ? upper(t.from_status) : null),
    to: (t: TransitionRow) => upper(t.to_status),
  },
};
