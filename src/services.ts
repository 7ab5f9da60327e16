import type { Config } from './config.js';
import type { Db } from './db/knex.js';
import { openDatabase } from './db/bootstrap.js';
import { createDb } from './db/knex.js';
import { startOrphanSweeper } from './metering/orphans.js';
import { createLeases, type Leases } from './metering/leases.js';
import { Catalog } from './catalog/catalog.js';
import { BudgetGate } from './budgets/gate.js';
import { PolicyEngine } from './policy/engine.js';
import { createMeter, type Meter } from './metering/meter.js';
import { createPriceBook, type PriceBook } from './metering/pricing.js';
import { loadPrices } from './db/prices.js';
import { createAuthenticator, type Authenticator } from './identity/authenticate.js';
import { createJwtVerifier } from './identity/jwt.js';
import { createMetrics, registerMeterGauges, type Metrics } from './ops/metrics.js';
import { createNotifier, type Notifier } from './budgets/notifier.js';
import { analysisOptionsFrom, createAdjacencySchedule, type AdjacencySchedule } from './adjacency/schedule.js';

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
  leases: Leases;
  authenticate: Authenticator;
  metrics: Metrics;
  /** Delivers tier notifications from the outbox, on its own timer. */
  notifier: Notifier;
  /** Runs the adjacency analysis of the current month on a timer (analytics role; one replica at a time). */
  adjacency: AdjacencySchedule;
  close(): Promise<void>;
};

export async function createServices(config: Config, log: Log): Promise<Services> {
  const database = await openDatabase(config, { log });
  const { db } = database;
  const catalog = new Catalog(db, log);
  // Reservations get a pool of their own on Postgres, committing without waiting for the WAL flush. It is
  // small: calls of one use case all update its counter rows, so more connections only queue more backends
  // on the same row locks (Postgres CPU per call grows with them); the rest wait in the pool instead.
  const reservationDb = config.database.kind === 'postgres'
    ? createDb(config.database, { asyncCommit: true, poolMax: config.reservationPool })
    : db;
  const budgetGate = new BudgetGate(reservationDb, log, config.reservationTtlMs);
  const prices = {
    book: createPriceBook([]),
    async refresh() {
      this.book = createPriceBook(await loadPrices(db));
    },
  };
  await Promise.all([catalog.refresh(), prices.refresh()]);
  catalog.start(config.refresh.catalogMs);
  budgetGate.startSweeper(config.refresh.reservationSweepMs);
  const stopOrphanSweeper = startOrphanSweeper(db, log, config.refresh.reservationSweepMs);
  const priceTimer = setInterval(() => prices.refresh().catch((err: unknown) => log.warn({ err }, 'price refresh failed')), config.refresh.catalogMs);
  priceTimer.unref();

  const policy = await PolicyEngine.fromFile(config.policy.bundlePath, { watch: config.policy.watch, log });
  const meter = createMeter({ db, journalDir: config.journalDir, flushIntervalMs: config.flush.intervalMs, batchSize: config.flush.batch, log });
  await meter.start();
  const leases = createLeases({ db, log, ttlMs: config.reservationTtlMs });
  leases.start();
  const notifier = createNotifier({ db, log });
  notifier.start();
  const adjacency = createAdjacencySchedule({
    db, log, intervalMs: config.role === 'gateway' ? 0 : config.adjacency.intervalMs, options: analysisOptionsFrom(config.adjacency),
  });
  adjacency.start();

  const metrics = createMetrics();
  registerMeterGauges(metrics, () => meter.stats());

  return {
    config, db, catalog, budgetGate, prices, policy, meter, leases, metrics, notifier, adjacency,
    authenticate: createAuthenticator({ db, verifyJwt: createJwtVerifier(config.jwt), cacheMs: config.refresh.keyCacheMs }),
    async close() {
      clearInterval(priceTimer);
      catalog.stop();
      budgetGate.stop();
      stopOrphanSweeper();
      await policy.close();
      await adjacency.stop();
      await notifier.stop();
      await leases.stop();
      await meter.close();
      if (reservationDb !== db) await reservationDb.destroy();
      await database.close();
    },
  };
}
