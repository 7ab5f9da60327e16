import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('business_units', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.text('owner_name').notNullable();
    t.text('owner_email').notNullable();
    t.text('owner_webhook_url');
    t.text('finance_name').notNullable();
    t.text('finance_email').notNullable();
    t.text('finance_webhook_url');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('use_cases', (t) => {
    t.text('id').primary();
    t.text('bu_id').notNullable().references('business_units.id');
    t.text('name').notNullable();
    t.text('class').notNullable();
    t.text('owner_name').notNullable();
    t.text('owner_email').notNullable();
    t.text('owner_webhook_url');
    t.text('outcome_metric');
    t.text('outcome_unit');
    t.text('outcome_direction').notNullable().defaultTo('increase');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['bu_id']);
  });
  await knex.schema.createTable('providers', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.text('api_style').notNullable();
  });
  await knex.schema.createTable('models', (t) => {
    t.text('id').primary();
    t.text('provider_id').notNullable().references('providers.id');
    t.text('family').notNullable();
    t.text('display_name').notNullable();
  });
  await knex.schema.createTable('prices', (t) => {
    t.increments('id').primary();
    t.text('model_id').notNullable().references('models.id');
    t.timestamp('effective_from', { useTz: true }).notNullable();
    t.decimal('input_per_mtok', 20, 8).notNullable();
    t.decimal('cached_input_per_mtok', 20, 8).notNullable();
    t.decimal('cache_write_per_mtok', 20, 8).notNullable();
    t.decimal('output_per_mtok', 20, 8).notNullable();
    t.text('currency').notNullable().defaultTo('USD');
    t.text('source');
    t.unique(['model_id', 'effective_from']);
  });
  await knex.schema.createTable('agents', (t) => {
    t.text('id').primary();
    t.text('bu_id').notNullable().references('business_units.id');
    t.text('name').notNullable();
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('agent_use_cases', (t) => {
    t.text('agent_id').notNullable().references('agents.id').onDelete('CASCADE');
    t.text('use_case_id').notNullable().references('use_cases.id');
    t.primary(['agent_id', 'use_case_id']);
  });
  await knex.schema.createTable('agent_models', (t) => {
    t.text('agent_id').notNullable().references('agents.id').onDelete('CASCADE');
    t.text('model_id').notNullable().references('models.id');
    t.primary(['agent_id', 'model_id']);
  });
  // The ladder the policy walks at the soft cap: from a model to the next cheaper one. The catalog holds
  // it; the gateway hands it to the policy bundle's decision as data (see src/policy/engine.ts).
  await knex.schema.createTable('downgrade_ladder', (t) => {
    t.text('model_id').primary().references('models.id');
    t.text('cheaper_model_id').notNullable().references('models.id');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['downgrade_ladder', 'agent_models', 'agent_use_cases', 'agents', 'prices', 'models', 'providers', 'use_cases', 'business_units']) {
    await knex.schema.dropTableIfExists(table);
  }
}
