import type { Config } from './config.js';
import { buildApp } from './app.js';

/** Starts tollgate and closes it gracefully on SIGINT/SIGTERM (in-flight calls finish, the meter flushes). */
export async function startServer(config: Config): Promise<void> {
  const app = await buildApp(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  await app.listen({ port: config.port, host: config.host });
  const where = { address: `http://${config.host}:${config.port}`, database: config.database.kind };
  if (app.tollgate.policy.ready) app.log.info({ ...where, policy_revision: app.tollgate.policy.revision }, 'tollgate is ready');
  else app.log.warn({ ...where, bundle: config.policy.bundlePath }, 'listening but NOT ready: no valid policy bundle, every call is refused until one loads');
}
