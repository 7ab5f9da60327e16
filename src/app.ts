import fp from 'fastify-plugin';
import type { FastifyHttpOptions, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';
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
import { clientErrorHandler } from './gateway/client-error.js';

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
  // A callback hook: an async one costs every request a promise and a microtask turn.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-tollgate-request-id', request.id);
    done();
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

export function serverOptions(config: Config, logger: FastifyServerOptions['logger'] = { level: config.logLevel, redact: LOG_REDACT }): FastifyHttpOptions<Server> {
  return {
    // Whoever configures the logger, request URLs are logged without their query's values.
    logger: typeof logger === 'object' ? { ...logger, serializers: { ...LOG_SERIALIZERS, ...logger.serializers } } : logger,
    logController: new RequestLogController(),
    bodyLimit: config.bodyLimit,
    genReqId: () => requestId(),
    // Node's requestTimeout bounds receiving the request (headers and body) and ends once it is received: a
    // body trickled byte by byte is cut, an answer streamed for minutes is not (the upstream timeout bounds it).
    requestTimeout: config.requestTimeoutMs,
    http: requestTimers(config.requestTimeoutMs),
    clientErrorHandler,
    ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
    return503OnClosing: true,
    // Opening PGlite and migrating can take several seconds on a busy machine.
    pluginTimeout: 120_000,
    forceCloseConnections: 'idle',
  };
}

/**
 * Node enforces the larger of headersTimeout (60 s by default) and requestTimeout, so a shorter request timeout
 * needs a headers timeout no longer than it; and it checks them on a timer (30 s by default), so a short timeout
 * needs a shorter period to be kept within a quarter of itself.
 */
function requestTimers(requestTimeoutMs: number) {
  if (requestTimeoutMs === 0) return {};
  return {
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeoutMs / 4))),
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
