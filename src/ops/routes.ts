import type { FastifyInstance } from 'fastify';
import { pingDb } from '../db/knex.js';

/** /healthz (the process is up), /readyz (policy loaded and database reachable), /metrics (Prometheus). */
export async function opsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const policy = app.tollgate.policy.ready;
    const database = await pingDb(app.tollgate.db).then(() => true, () => false);
    const ready = policy && database;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: { policy: policy ? 'ok' : 'no valid policy loaded', database: database ? 'ok' : 'unreachable' },
      policy_revision: app.tollgate.policy.revision,
    });
  });

  app.get('/metrics', async (_req, reply) => {
    const { registry } = app.tollgate.metrics;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
