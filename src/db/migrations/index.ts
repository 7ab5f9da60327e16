import type { Knex } from 'knex';
import * as catalog from './001_catalog.js';
import * as identity from './002_identity.js';
import * as ledger from './003_ledger.js';
import * as budgets from './004_budgets.js';
import * as budgetsV2 from './005_budgets_v2.js';
import * as notifications from './006_notifications.js';
import * as inflight from './007_inflight.js';
import * as analytics from './010_analytics.js';
import * as outcomes from './011_outcomes.js';
import * as tools from './012_tools.js';
import * as adjacency from './013_adjacency.js';
import * as reservations from './014_reservations.js';
import * as ledgerIngest from './015_ledger_ingest.js';
import * as rollupBillingPeriod from './016_rollup_billing_period.js';
import * as ledgerBrin from './017_ledger_brin.js';
import * as usageMonthly from './018_usage_monthly.js';
import * as decisionClaims from './019a_decision_claims.js';
import * as ledgerFlags from './020a_ledger_flags.js';
import * as deadLetters from './020b_dead_letters.js';
import * as usageReview from './020c_usage_review.js';
import * as metricsRole from './021_metrics_role.js';
import * as priceBook from './022_price_book.js';
import * as reforecasts from './023_reforecasts.js';
import * as reconcile from './026_reconcile.js';
import * as shadowNotices from './027_shadow_notices.js';
import * as budgetLeases from './031_budget_leases.js';
import * as leasePartialGrants from './032_lease_partial_grants.js';
import * as vendorModels from './040_vendor_models.js';
import * as inflightFallbackJson from './041_inflight_fallback_json.js';
import * as leaseAcquireOnly from './042_lease_acquire_only.js';
import * as leaseAcquireNewRows from './043_lease_acquire_new_rows.js';

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };

// A static list instead of a directory scan: the same migrations run from src/ (tsx, vitest) and dist/.
const MIGRATIONS: ReadonlyArray<[string, Migration]> = [
  ['001_catalog', catalog],
  ['002_identity', identity],
  ['003_ledger', ledger],
  ['004_budgets', budgets],
  ['005_budgets_v2', budgetsV2],
  ['006_notifications', notifications],
  ['007_inflight', inflight],
  ['010_analytics', analytics],
  ['011_outcomes', outcomes],
  ['012_tools', tools],
  ['013_adjacency', adjacency],
  ['014_reservations', reservations],
  ['015_ledger_ingest', ledgerIngest],
  ['016_rollup_billing_period', rollupBillingPeriod],
  ['017_ledger_brin', ledgerBrin],
  ['018_usage_monthly', usageMonthly],
  ['019a_decision_claims', decisionClaims],
  ['020a_ledger_flags', ledgerFlags],
  ['020b_dead_letters', deadLetters],
  ['020c_usage_review', usageReview],
  ['021_metrics_role', metricsRole],
  ['022_price_book', priceBook],
  ['023_reforecasts', reforecasts],
  ['026_reconcile', reconcile],
  ['027_shadow_notices', shadowNotices],
  ['031_budget_leases', budgetLeases],
  ['032_lease_partial_grants', leasePartialGrants],
  ['040_vendor_models', vendorModels],
  ['041_inflight_fallback_json', inflightFallbackJson],
  ['042_lease_acquire_only', leaseAcquireOnly],
  ['043_lease_acquire_new_rows', leaseAcquireNewRows],
];

/** Every migration's name, in order. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map(([name]) => name);

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => MIGRATIONS.map(([, m]) => m),
  getMigrationName: (m) => MIGRATIONS.find(([, x]) => x === m)![0],
  getMigration: async (m) => m,
};
