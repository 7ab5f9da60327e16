import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pingDb } from '../db/knex.js';
import { canSee } from '../graphql/access.js';
import { callerFrom } from '../graphql/caller.js';
import { GQL_ERRORS, type GqlErrorCode } from '../graphql/errors.js';
import type { MeterStats } from '../metering/meter.js';

/**
 * A writer that failed this many flushes in a row while the database answers is stuck on something (with its
 * backoff, about 12 s from the first failure), even before its oldest record is TOLLGATE_READY_METER_LAG_MS old.
 */
export const METER_FAILURE_STREAK = 5;

/**
 * /healthz (the process is up) and /readyz (policy loaded, database reachable, meter flushing) stay open: orchestrators
 * probe them without credentials, so they say ready or not and which check failed, nothing more.
 * /metrics (Prometheus) holds spend per model: it takes an API token whose role may scrape (metrics, admin).
 */
export async function opsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const policy = app.tollgate.policy.ready;
    const database = await pingDb(app.tollgate.db).then(() => true, () => false);
    const meter = database ? meterCheck(app.tollgate.meter.stats(), app.tollgate.config.readyMeterLagMs) : 'waiting for the database';
    const ready = policy && database && meter === 'ok';
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: { policy: policy ? 'ok' : 'no valid policy loaded', database: database ? 'ok' : 'unreachable', meter },
    });
  });

  app.get('/metrics', async (request, reply) => {
    if (!(await mayScrape(app, request, reply))) return reply;
    const { registry } = app.tollgate.metrics;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

async function mayScrape(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const caller = await callerFrom(app.tollgate.db, request);
  if (!caller) {
    reply.header('www-authenticate', 'Bearer realm="tollgate metrics"');
    refuse(reply, 'UNAUTHENTICATED', 'Send an API token of the metrics or admin role as Authorization: Bearer tga_… (tollgate token create --role metrics).');
    return false;
  }
  if (!canSee(caller, 'metrics')) {
    refuse(reply, 'FORBIDDEN', `the ${caller.role} role cannot read metrics`);
    return false;
  }
  return true;
}

function refuse(reply: FastifyReply, code: GqlErrorCode, message: string): void {
  reply.code(GQL_ERRORS[code].status).send({ error: { code, message } });
}

/** 'ok', or why the meter cannot flush while the database answers (calls served here would not reach budgets). */
export function meterCheck(s: MeterStats, lagMs: number, now = Date.now()): string {
  const age = s.oldestPendingAt === null ? 0 : now - s.oldestPendingAt;
  if (age < lagMs && s.consecutiveFailures < METER_FAILURE_STREAK) return 'ok';
  return `cannot flush: ${s.pending} records pending, the oldest ${Math.round(age / 1000)} s old, ${s.consecutiveFailures} failed attempts in a row`;
}
