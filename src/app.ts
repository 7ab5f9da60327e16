import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import Fastify from 'fastify';
import type { Config } from './config.js';
import type { DbTarget } from './db/knex.js';
import { createServices, type Services } from './services.js';
import { opsRoutes } from './ops/routes.js';
import { gatewayRoutes } from './gateway/plugin.js';
import { analyticsApi } from './analytics/api.js';
import { councilPage } from './council/plugin.js';
import { financePage } from './finance/plugin.js';
import { requestId } from './gateway/request-id.js';
import { LOG_SERIALIZERS, RequestLogController } from './ops/request-log.js';

declare module 'fastify' {
  interface FastifyInstance {
    tollgate: Services;
  }
}

/** tollgate as one Fastify plugin: its shared services, then ops routes, then the gateway. */
export const tollgate = fp(async function tollgate(app: FastifyInstance, opts: { config: Config; database?: DbTarget }) {
  const services = await createServices(opts.config, app.log, opts.database);
  app.decorate('tollgate', services);
  app.addHook('onClose', async () => services.close());
  // Closing waits for calls in flight; past the grace period (or for connections that never sent a
  // request, which Node does not count as idle) the sockets are closed so that shutdown always ends.
  app.addHook('preClose', async () => {
    setTimeout(() => app.server.closeAllConnections(), opts.config.shutdownGraceMs).unref();
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-tollgate-request-id', request.id);
  });
  await app.register(opsRoutes);
  if (opts.config.role !== 'analytics') await app.register(gatewayRoutes);
  if (opts.config.role !== 'gateway') await app.register(analyticsApi);
  // The council's and finance's pages read the GraphQL API, so they are served wherever that is.
  if (opts.config.role !== 'gateway') await app.register(councilPage);
  if (opts.config.role !== 'gateway') await app.register(financePage);
}, { name: 'tollgate', fastify: '5.x' });

/**
 * Secrets and prompt text never reach the logs: credentials are redacted, bodies are not logged, and URLs
 * keep their query's parameter names only (src/ops/request-log.ts).
 */
export const LOG_REDACT = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'];

export function serverOptions(config: Config, logger: FastifyServerOptions['logger'] = { level: config.logLevel, redact: LOG_REDACT }): FastifyServerOptions {
  return {
    // Whoever configures the logger, request URLs are logged without their query's values.
    logger: typeof logger === 'object' ? { ...logger, serializers: { ...LOG_SERIALIZERS, ...logger.serializers } } : logger,
    logController: new RequestLogController(),
    bodyLimit: config.bodyLimit,
    genReqId: () => requestId(),
    // Streams can run for minutes; tollgate's own upstream timeout bounds them instead.
    requestTimeout: 0,
    return503OnClosing: true,
    // Opening PGlite and migrating can take several seconds on a busy machine.
    pluginTimeout: 120_000,
    forceCloseConnections: 'idle',
  };
}

/**
 * A ready tollgate app (not listening); tests use it with `inject` or `listen({ port: 0 })`. `database` opens
 * another database than the configured one (tests: an in-memory PGlite started from a migrated dump).
 */
export async function buildApp(config: Config, logger?: FastifyServerOptions['logger'], database?: DbTarget): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, logger));
  await app.register(tollgate, { config, database });
  await app.ready();
  return app;
}
