import type { Knex } from 'knex';

/**
 * Budgets become scoped (use case, BU, agent, session) with their own periods, and their state moves to
 * per-period counters shared by every replica: `spent` (from the ledger, written with it), `reserved`
 * (worst cases of calls in flight) and `calls`. Reservations are rows so that a dead replica's expire.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('budgets', (t) => {
    t.text('scope').notNullable().defaultTo('use_case');
    t.text('scope_id');
    t.integer('max_calls');
  });
  await knex.raw(`update budgets set scope_id = use_case_id`);
  await knex.schema.alterTable('budgets', (t) => {
    t.dropUnique(['use_case_id']);
    t.dropForeign(['use_case_id']);
  });
  await knex.schema.alterTable('budgets', (t) => {
    t.dropColumn('use_case_id');
    t.text('scope_id').notNullable().alter();
    t.decimal('limit_amount', 24, 12).nullable().alter();
    t.unique(['scope', 'scope_id']);
  });
  await knex.raw(`alter table budgets add constraint budgets_scope_check check (scope in ('use_case', 'bu', 'agent', 'session'))`);
  await knex.raw(`alter table budgets add constraint budgets_limit_check check (limit_amount is not null or (scope = 'session' and max_calls is not null))`);

  await knex.schema.createTable('budget_counters', (t) => {
    t.integer('budget_id').notNullable().references('budgets.id').onDelete('CASCADE');
    t.timestamp('period_start', { useTz: true }).notNullable();
    // The session id for session budgets; '' for the others.
    t.text('key').notNullable().defaultTo('');
    t.decimal('spent', 24, 12).notNullable().defaultTo(0);
    t.decimal('reserved', 24, 12).notNullable().defaultTo(0);
    t.bigInteger('calls').notNullable().defaultTo(0);
    t.primary(['budget_id', 'period_start', 'key']);
  });
  await knex.schema.createTable('budget_reservations', (t) => {
    t.text('request_id').notNullable();
    t.integer('budget_id').notNullable().references('budgets.id').onDelete('CASCADE');
    t.timestamp('period_start', { useTz: true }).notNullable();
    t.text('key').notNullable().defaultTo('');
    t.decimal('amount', 24, 12).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['request_id', 'budget_id']);
    t.index(['expires_at']);
  });
  // Calls inside a session's tree of tool calls, for session cost trees.
  await knex.schema.alterTable('usage_events', (t) => {
    t.text('parent_request_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => t.dropColumn('parent_request_id'));
  await knex.schema.dropTableIfExists('budget_reservations');
  await knex.schema.dropTableIfExists('budget_counters');
  await knex.raw(`alter table budgets drop constraint if exists budgets_limit_check`);
  await knex.raw(`alter table budgets drop constraint if exists budgets_scope_check`);
  await knex.schema.alterTable('budgets', (t) => {
    t.dropUnique(['scope', 'scope_id']);
    t.text('use_case_id');
  });
  await knex.raw(`delete from budgets where scope <> 'use_case'`);
  await knex.raw(`update budgets set use_case_id = scope_id`);
  await knex.schema.alterTable('budgets', (t) => {
    t.dropColumn('scope');
    t.dropColumn('scope_id');
    t.dropColumn('max_calls');
    t.unique(['use_case_id']);
  });
}
