import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('budgets', (t) => {
    t.increments('id').primary();
    t.text('use_case_id').notNullable().unique().references('use_cases.id');
    t.decimal('limit_amount', 24, 12).notNullable();
    t.text('unit').notNullable();
    t.text('currency');
    t.text('period').notNullable().defaultTo('month');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`alter table budgets add constraint budgets_unit_check check (unit in ('usd', 'tokens'))`);
  await knex.raw(`alter table budgets add constraint budgets_period_check check (period in ('day', 'week', 'month', 'quarter'))`);
  // Spend per use case and period, kept by the metering writer in the same transaction as the ledger
  // rows it inserts, so it never drifts from the ledger (only newly inserted rows are counted).
  await knex.schema.createTable('use_case_spend', (t) => {
    t.text('use_case_id').notNullable();
    t.text('period').notNullable();
    t.timestamp('period_start', { useTz: true }).notNullable();
    t.decimal('cost', 24, 12).notNullable().defaultTo(0);
    t.bigInteger('tokens').notNullable().defaultTo(0);
    t.bigInteger('calls').notNullable().defaultTo(0);
    t.primary(['use_case_id', 'period', 'period_start']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('use_case_spend');
  await knex.schema.dropTableIfExists('budgets');
}
