import type { Config } from './config.js';
import type { Db } from './db/knex.js';
import { openDatabase } from './db/bootstrap.js';
import { Catalog } from './catalog/catalog.js';
import { BudgetBook } from './budgets/state.js';
import { PolicyEngine } from './policy/engine.js';
import { createMeter, type Meter } from './metering/meter.js';
import { createPriceBook, type PriceBook } from './metering/pricing.js';
import { loadPrices } from './db/prices.js';
import { createAuthenticator, type Authenticator } from './identity/authenticate.js';
import { createJwtVerifier } from './identity/jwt.js';
import { createMetrics, registerMeterGauges, type Metrics } from './ops/metrics.js';
import type { UsageEvent } from './metering/types.js';

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };

/** Everything the routes share, created once at boot; `close` stops it all in reverse order. */
export type Services = {
  config: Config;
  db: Db;
  catalog: Catalog;
  budgets: BudgetBook;
  prices: { book: PriceBook; refresh(): Promise<void> };
  policy: PolicyEngine;
  meter: Meter;
  authenticate: Authenticator;
  metrics: Metrics;
  close(): Promise<void>;
};

export async function createServices(config: Config, log: Log): Promise<Services> {
  const database = await openDatabase(config, { log });
  const { db } = database;
  const catalog = new Catalog(db, log);
  const budgets = new BudgetBook(db, log);
  const prices = {
    book: createPriceBook([]),
    async refresh() {
      this.book = createPriceBook(await loadPrices(db));
    },
  };
  await Promise.all([catalog.refresh(), budgets.refresh(), prices.refresh()]);
  catalog.start(config.refresh.catalogMs);
  budgets.start(config.refresh.budgetMs);
  const priceTimer = setInterval(() => prices.refresh().catch((err: unknown) => log.warn({ err }, 'price refresh failed')), config.refresh.catalogMs);
  priceTimer.unref();

  const policy = await PolicyEngine.fromFile(config.policy.bundlePath, { watch: config.policy.watch, log });
  const meter = createMeter({ db, journalDir: config.journalDir, flushIntervalMs: config.flush.intervalMs, batchSize: config.flush.batch, log });
  meter.onFlushed((records, info) => {
    // Replayed records were journaled by an earlier process; this one never counted them locally.
    if (!info.replayed) budgets.flushed(records.filter((r): r is UsageEvent => r.kind === 'usage'));
  });
  await meter.start();

  const metrics = createMetrics();
  registerMeterGauges(metrics, () => meter.stats());

  return {
    config, db, catalog, budgets, prices, policy, meter, metrics,
    authenticate: createAuthenticator({ db, verifyJwt: createJwtVerifier(config.jwt), cacheMs: config.refresh.keyCacheMs }),
    async close() {
      clearInterval(priceTimer);
      catalog.stop();
      budgets.stop();
      await policy.close();
      await meter.close();
      await database.close();
    },
  };
}
