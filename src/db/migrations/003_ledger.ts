import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Append-only: rows are never updated; a correction is a new row.
  await knex.schema.createTable('usage_events', (t) => {
    t.bigIncrements('id').primary();
    t.text('request_id').notNullable().unique();
    t.timestamp('ts', { useTz: true }).notNullable();
    t.text('bu_id').notNullable();
    t.text('use_case_id').notNullable();
    t.text('agent_id').notNullable();
    t.text('session_id').notNullable();
    t.text('provider').notNullable();
    t.text('endpoint').notNullable();
    t.text('model_requested').notNullable();
    t.text('model_served').notNullable();
    t.bigInteger('input_tokens').notNullable();
    t.bigInteger('cached_input_tokens').notNullable();
    t.bigInteger('cache_write_tokens').notNullable();
    t.bigInteger('output_tokens').notNullable();
    t.decimal('cost', 24, 12).notNullable();
    t.text('currency').notNullable();
    t.integer('price_id').references('prices.id');
    t.integer('status').notNullable();
    t.boolean('partial').notNullable();
    t.integer('latency_ms').notNullable();
    t.text('decision_code').notNullable();
    t.text('policy_revision').notNullable();
    t.text('budget_tier').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['ts']);
    t.index(['use_case_id', 'ts']);
    t.index(['session_id']);
  });
  await knex.schema.createTable('decision_log', (t) => {
    t.bigIncrements('id').primary();
    t.text('request_id').notNullable().unique();
    t.timestamp('ts', { useTz: true }).notNullable();
    t.text('provider').notNullable();
    t.text('endpoint').notNullable();
    t.text('bu_id');
    t.text('use_case_id');
    t.text('agent_id');
    t.text('session_id');
    t.text('model');
    t.boolean('allowed').notNullable();
    t.integer('http_status').notNullable();
    t.text('code').notNullable();
    t.text('message').notNullable();
    t.jsonb('reasons').notNullable();
    t.text('policy_revision');
    t.text('budget_tier').notNullable();
    t.index(['ts']);
    t.index(['code', 'ts']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('decision_log');
  await knex.schema.dropTableIfExists('usage_events');
}
