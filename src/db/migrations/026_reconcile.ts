import type { Knex } from 'knex';

/**
 * Shadow spend: what the providers' usage and cost reports say the organization spent, per UTC day × model ×
 * API key × project (OpenAI) or workspace (Anthropic), beside the ledger. A run pulls every page of a range
 * and then replaces the range's days in one transaction: `shadow_report_days` says which days a run covered
 * (a covered day without rows is a day the provider billed nothing), `shadow_report_rows` holds the figures.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reconcile_runs', (t) => {
    t.bigIncrements('id').primary();
    t.text('provider').notNullable();
    t.date('from_day').notNullable();
    // Exclusive.
    t.date('to_day').notNullable();
    t.text('source').notNullable();
    t.text('triggered_by').notNullable();
    t.text('status').notNullable().defaultTo('running');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // A replica that dies mid-run leaves its claim to expire here; until then no other run of the provider starts.
    t.timestamp('lease_until', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true });
    t.integer('pages').notNullable().defaultTo(0);
    t.integer('rows').notNullable().defaultTo(0);
    t.text('error');
    t.index(['provider', 'id']);
  });
  await knex.raw(`alter table reconcile_runs add constraint reconcile_runs_status_check check (status in ('running', 'done', 'failed'))`);
  await knex.raw(`alter table reconcile_runs add constraint reconcile_runs_source_check check (source in ('api', 'file'))`);

  await knex.schema.createTable('shadow_report_days', (t) => {
    t.text('provider').notNullable();
    t.date('day').notNullable();
    t.bigInteger('run_id').notNullable().references('reconcile_runs.id');
    t.timestamp('fetched_at', { useTz: true }).notNullable();
    t.primary(['provider', 'day']);
  });

  await knex.schema.createTable('shadow_report_rows', (t) => {
    t.text('provider').notNullable();
    t.date('day').notNullable();
    // The catalog model the report's id maps to (a dated snapshot maps to its model), else the report's own label.
    t.text('model').notNullable();
    t.text('reported_model').notNullable();
    // '' when the report does not say (Workbench usage, the default workspace, a cost without a key).
    t.text('api_key_id').notNullable();
    t.text('scope_id').notNullable();
    t.decimal('cost', null).notNullable();
    // reported: the provider's cost for exactly this row; allocated: a cost the report gives per model and
    // workspace, split over the keys by their tokens of each kind; usage_only: tokens without any cost line.
    t.text('cost_source').notNullable();
    for (const n of ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'requests']) t.bigInteger(n).notNullable().defaultTo(0);
    t.bigInteger('run_id').notNullable().references('reconcile_runs.id');
    t.primary(['provider', 'day', 'model', 'reported_model', 'api_key_id', 'scope_id']);
  });
  await knex.raw(`alter table shadow_report_rows add constraint shadow_report_rows_source_check check (cost_source in ('reported', 'allocated', 'usage_only'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('shadow_report_rows');
  await knex.schema.dropTableIfExists('shadow_report_days');
  await knex.schema.dropTableIfExists('reconcile_runs');
}
