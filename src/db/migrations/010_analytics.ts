import type { Knex } from 'knex';
import { DECISION_ROLLUP_FROM_LOG } from '../rollups.js';

/**
 * API tokens for people and tools (finance, admin, council, BU owners), and the hourly rollups that every
 * report reads instead of the ledger. Rollup keys are NOT NULL: a decision without a BU, use case or agent
 * tag (say, a missing_tag denial) is rolled up under '' (reported as null).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.text('id').primary();
    // sha256 of the whole token: tokens are 256-bit random, so a slow hash would add latency and no safety.
    t.text('token_hash').notNullable().unique();
    t.text('prefix').notNullable();
    t.text('role').notNullable();
    t.text('bu_id').references('business_units.id');
    t.text('label');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.raw(`alter table api_tokens add constraint api_tokens_role_check check (role in ('finance', 'admin', 'council', 'bu-owner'))`);
  await knex.raw(`alter table api_tokens add constraint api_tokens_bu_check check ((role = 'bu-owner') = (bu_id is not null))`);

  await knex.schema.createTable('usage_hourly', (t) => {
    t.timestamp('hour', { useTz: true }).notNullable();
    for (const key of ['bu_id', 'use_case_id', 'agent_id', 'provider', 'model_served']) t.text(key).notNullable();
    for (const n of ['calls', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'partial_calls', 'error_calls']) {
      t.bigInteger(n).notNullable().defaultTo(0);
    }
    // Unbounded precision: a year of sums must not overflow what one row's numeric(24,12) holds.
    t.decimal('cost', null).notNullable().defaultTo(0);
    t.primary(['hour', 'bu_id', 'use_case_id', 'agent_id', 'provider', 'model_served']);
    t.index(['bu_id', 'hour']);
  });
  await knex.schema.createTable('decisions_hourly', (t) => {
    t.timestamp('hour', { useTz: true }).notNullable();
    for (const key of ['bu_id', 'use_case_id', 'agent_id', 'code']) t.text(key).notNullable();
    t.bigInteger('calls').notNullable().defaultTo(0);
    t.primary(['hour', 'bu_id', 'use_case_id', 'agent_id', 'code']);
    t.index(['bu_id', 'hour']);
  });
  // The decision log is paged newest first by (ts, id), optionally within one BU.
  await knex.raw('create index decision_log_ts_id_idx on decision_log (ts desc, id desc)');
  await knex.raw('create index decision_log_bu_ts_id_idx on decision_log (bu_id, ts desc, id desc)');

  // Backfill from whatever the ledger holds already (a no-op on a fresh database).
  await knex.raw(USAGE_ROLLUP_V1);
  await knex.raw(DECISION_ROLLUP_FROM_LOG);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists decision_log_bu_ts_id_idx');
  await knex.raw('drop index if exists decision_log_ts_id_idx');
  await knex.schema.dropTableIfExists('decisions_hourly');
  await knex.schema.dropTableIfExists('usage_hourly');
  await knex.schema.dropTableIfExists('api_tokens');
}

// The backfill as this migration first shipped it (usage_hourly's key gained accounting_period in 016, which
// rebuilds the table from the ledger again): frozen here so the migration means the same on every database.
const USAGE_ROLLUP_V1 = `
insert into usage_hourly (hour, bu_id, use_case_id, agent_id, provider, model_served, calls, input_tokens,
  cached_input_tokens, cache_write_tokens, output_tokens, cost, partial_calls, error_calls)
select date_trunc('hour', ts at time zone 'UTC') at time zone 'UTC', bu_id, use_case_id, agent_id, provider, model_served,
  count(*), sum(input_tokens), sum(cached_input_tokens), sum(cache_write_tokens), sum(output_tokens), sum(cost),
  count(*) filter (where partial), count(*) filter (where status >= 400)
from usage_events
group by 1, 2, 3, 4, 5, 6`;
