import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildApp } from './app.js';
import { RECOMMENDED_SEMI_SPACE_MB, semiSpaceMb } from './ops/young-generation.js';

/**
 * Starts tollgate and closes it gracefully on SIGINT/SIGTERM (in-flight calls finish, the meter flushes).
 * The handlers are in place before start-up begins: a signal during a slow start (opening PGlite,
 * migrating) closes what was opened once it is ready, rather than killing the process mid-migration.
 */
export async function startServer(config: Config): Promise<void> {
  const state: { app?: FastifyInstance; signalled?: string } = {};
  const shutdown = (signal: string) => {
    if (state.signalled) return;
    state.signalled = signal;
    if (state.app) close(state.app, signal);
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  const app = await buildApp(config);
  state.app = app;
  if (state.signalled) return close(app, state.signalled);
  // The address bound (with PORT=0, the port the system chose).
  const address = await app.listen({ port: config.port, host: config.host });
  const where = { address, database: config.database.kind };
  if (config.role !== 'analytics' && semiSpaceMb(process.execArgv, process.env.NODE_OPTIONS) === null) {
    const flag = `--max-semi-space-size=${RECOMMENDED_SEMI_SPACE_MB}`;
    app.log.info({ node_options: flag }, `Node runs with its default young generation; started with NODE_OPTIONS=${flag} (as npm start does), the gateway takes 5-9% less CPU per call (README: Operations)`);
  }
  if (app.tollgate.policy.ready) app.log.info({ ...where, policy_revision: app.tollgate.policy.revision }, 'tollgate is ready');
  else app.log.warn({ ...where, bundle: config.policy.bundlePath }, 'listening but NOT ready: no valid policy bundle, every call is refused until one loads');
}

function close(app: FastifyInstance, signal: string): void {
  app.log.info({ signal }, 'shutting down');
  app.close().then(() => process.exit(0), (err: unknown) => {
    app.log.error({ err }, 'shutdown failed');
    process.exit(1);
  });
}
