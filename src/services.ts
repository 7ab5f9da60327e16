import type { Config } from './config.js';
import type { Db } from './db/knex.js';
import { openDatabase } from './db/bootstrap.js';
import { createDb, type DbTarget } from './db/knex.js';
import { serveLocalSocket, type LocalSocket } from './db/local-socket.js';
import { startOrphanSweeper } from './metering/orphans.js';
import { createLiveCalls, type LiveCalls } from './metering/live-calls.js';
import { Catalog } from './catalog/catalog.js';
import { BudgetGate } from './budgets/gate.js';
import { PolicyEngine } from './policy/engine.js';
import { thresholdsFrom } from './analytics/forecast.js';
import { createMeter, type Meter } from './metering/meter.js';
import { createPriceBook, type PriceBook } from './metering/pricing.js';
import { loadPrices } from './db/prices.js';
import { createAuthenticator, type Authenticator } from './identity/authenticate.js';
import { createJwtVerifier } from './identity/jwt.js';
import { AuthFailureLimit } from './identity/failure-limit.js';
import { createMetrics, registerMeterGauges, registerPolicyInfo, registerBudgetStatements, type Metrics } from './ops/metrics.js';
import { createNotifier, type Notifier } from './budgets/notifier.js';
import { analysisOptionsFrom, createAdjacencySchedule, type AdjacencySchedule } from './adjacency/schedule.js';
import { createReforecastSchedule } from './budgets/price-changes.js';
import type { Rounds } from './ops/rounds.js';
import { createReconcileSchedule, type ReconcileSchedule } from './reconcile/schedule.js';
import { startTracing, type CallTracer } from './ops/traces.js';

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };

/** Everything the routes share, created once at boot; `close` stops it all in reverse order. */
export type Services = {
  config: Config;
  db: Db;
  catalog: Catalog;
  budgetGate: BudgetGate;
  prices: { book: PriceBook; refresh(): Promise<void> };
  policy: PolicyEngine;
  meter: Meter;
  /** Calls in flight on this replica, whose leases (in-flight rows, reservations) are renewed until they end. */
  liveCalls: LiveCalls;
  authenticate: Authenticator;
  metrics: Metrics;
  /** Delivers tier notifications from the outbox, on its own timer. */
  notifier: Notifier;
  /** Runs the adjacency analysis of the current month on a timer (analytics role; one replica at a time). */
  adjacency: AdjacencySchedule;
  /** Re-forecasts budgets when a future-dated price change takes effect (any replica; each change once). */
  reforecasts: Rounds;
  /** Pulls the providers' usage and cost reports on a timer (analytics role; one run per provider at a time). */
  reconcile: ReconcileSchedule;
  /** One span per call over OTLP; null when no OTLP endpoint is set (the SDK is then never loaded). */
  tracer: CallTracer | null;
  close(): Promise<void>;
};

export async function createServices(config: Config, log: Log, target?: DbTarget): Promise<Services> {
  const database = await openDatabase(config, { log, target });
  const { db } = database;
  // The CLI works beside serve on the embedded database through this socket (README: CLI).
  const localSocket: LocalSocket | null = config.database.kind === 'pglite' && config.database.dataDir !== 'memory://'
    ? await serveLocalSocket(db, config.database.dataDir, log)
    : null;
  const catalog = new Catalog(db, log);
  // Reservations get a pool of their own on Postgres, committing without waiting for the WAL flush. It is
  // small: calls of one use case all update its counter rows, so more connections only queue more backends
  // on the same row locks (Postgres CPU per call grows with them); the rest wait in the pool instead.
  const reservationDb = config.database.kind === 'postgres'
    ? createDb(config.database, { asyncCommit: true, poolMax: config.reservationPool })
    : db;
  const policy = await PolicyEngine.fromFile(config.policy.bundlePath, { watch: config.policy.watch, log });
  const budgetGate = new BudgetGate(reservationDb, log, {
    reservationTtlMs: config.reservationTtlMs, leaseSettleMs: config.budgetLeases.settleMs, leaseTtlMs: config.budgetLeases.ttlMs,
    // The policy's hard-cap ratio; without a bundle no call is allowed, so the default hardly matters.
    hardCap: () => thresholdsFrom(policy.data)?.hard_cap ?? 1.1,
    flushIntervalMs: config.flush.intervalMs,
  });
  const prices = {
    book: createPriceBook([]),
    async refresh() {
      this.book = createPriceBook(await loadPrices(db));
    },
  };
  await Promise.all([catalog.refresh(), prices.refresh()]);
  catalog.start(config.refresh.catalogMs);
  budgetGate.start(config.refresh.reservationSweepMs);
  const stopOrphanSweeper = startOrphanSweeper(db, log, config.refresh.reservationSweepMs);
  const priceTimer = setInterval(() => prices.refresh().catch((err: unknown) => log.warn({ err }, 'price refresh failed')), config.refresh.catalogMs);
  priceTimer.unref();

  const meter = createMeter({ db, journalDir: config.journalDir, flushIntervalMs: config.flush.intervalMs, batchSize: config.flush.batch, inflightGraceMs: config.flush.inflightGraceMs, log });
  meter.onFlushed((records) => budgetGate.ledgered(records));
  await meter.start();
  const liveCalls = createLiveCalls({ db, log, ttlMs: config.reservationTtlMs });
  liveCalls.start();
  const notifier = createNotifier({ db, log });
  notifier.start();
  const adjacency = createAdjacencySchedule({
    db, log, intervalMs: config.role === 'gateway' ? 0 : config.adjacency.intervalMs, options: analysisOptionsFrom(config.adjacency),
  });
  adjacency.start();
  const reforecasts = createReforecastSchedule({ db, log, intervalMs: config.reforecastIntervalMs, thresholds: () => thresholdsFrom(policy.data) });
  reforecasts.start();
  const reconcile = createReconcileSchedule({ db, log, settings: config.reconcile, intervalMs: config.role === 'gateway' ? 0 : config.reconcile.intervalMs });
  reconcile.start();

  const tracer = await startTracing(config.traces, log);
  const metrics = createMetrics();
  registerMeterGauges(metrics, () => meter.stats());
  registerPolicyInfo(metrics, () => policy.revision);
  registerBudgetStatements(metrics, () => budgetGate.statements);

  return {
    config, db, catalog, budgetGate, prices, policy, meter, liveCalls, metrics, notifier, adjacency, reforecasts, reconcile, tracer,
    authenticate: createAuthenticator({
      db, verifyJwt: createJwtVerifier(config.jwt), cacheMs: config.refresh.keyCacheMs, failures: new AuthFailureLimit(config.authFailures), log,
    }),
    async close() {
      await localSocket?.close();
      clearInterval(priceTimer);
      catalog.stop();
      stopOrphanSweeper();
      await policy.close();
      await adjacency.stop();
      await reforecasts.stop();
      await reconcile.stop();
      await notifier.stop();
      await liveCalls.stop();
      await meter.close();
      // After the meter's last flush, so that what the leased calls spent is given back as ledgered.
      await budgetGate.stop();
      if (reservationDb !== db) await reservationDb.destroy();
      await database.close();
      // Calls have ended by now, and their spans with them: the last batch goes out (bounded by the export timeout).
      await tracer?.shutdown().catch((err: unknown) => log.warn({ err }, 'traces: the last spans could not be exported'));
    },
  };
}
