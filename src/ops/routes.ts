import type { FastifyInstance } from 'fastify';
import { pingDb } from '../db/knex.js';
import type { MeterStats } from '../metering/meter.js';

/**
 * A writer that failed this many flushes in a row while the database answers is stuck on something (with its
 * backoff, about 12 s from the first failure), even before its oldest record is TOLLGATE_READY_METER_LAG_MS old.
 */
export const METER_FAILURE_STREAK = 5;

/** /healthz (the process is up), /readyz (policy loaded, database reachable, meter flushing), /metrics (Prometheus). */
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
      policy_revision: app.tollgate.policy.revision,
    });
  });

  app.get('/metrics', async (_req, reply) => {
    const { registry } = app.tollgate.metrics;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

/** 'ok', or why the meter cannot flush while the database answers (calls served here would not reach budgets). */
export function meterCheck(s: MeterStats, lagMs: number, now = Date.now()): string {
  const age = s.oldestPendingAt === null ? 0 : now - s.oldestPendingAt;
  if (age < lagMs && s.consecutiveFailures < METER_FAILURE_STREAK) return 'ok';
  return `cannot flush: ${s.pending} records pending, the oldest ${Math.round(age / 1000)} s old, ${s.consecutiveFailures} failed attempts in a row`;
}
