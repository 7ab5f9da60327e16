import type { Knex } from 'knex';

/**
 * Tier crossings, their delivery outbox, and the audit of budget changes. A crossing is recorded once per
 * budget, period, key and tier by the unique key (not by which replica got there first); its outbox rows
 * are written in the same transaction, so an event is never without its notifications or the reverse.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('budget_tier_events', (t) => {
    t.bigIncrements('id').primary();
    t.integer('budget_id').notNullable().references('budgets.id').onDelete('CASCADE');
    t.timestamp('period_start', { useTz: true }).notNullable();
    // The session id for session budgets; '' for the others (as in budget_counters).
    t.text('key').notNullable().defaultTo('');
    t.text('tier').notNullable();
    t.decimal('ratio', 24, 12).notNullable();
    t.decimal('spent', 24, 12).notNullable();
    t.decimal('limit_amount', 24, 12).notNullable();
    t.text('unit').notNullable();
    t.text('request_id').notNullable();
    // When the call crossed (from the journal record); created_at is when the row was written, later on a replay.
    t.timestamp('crossed_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['budget_id', 'period_start', 'key', 'tier']);
  });
  await knex.raw(`alter table budget_tier_events add constraint budget_tier_events_tier_check check (tier in ('notice', 'warning', 'soft_cap', 'hard_cap'))`);

  await knex.schema.createTable('notification_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('event_id').notNullable().references('budget_tier_events.id').onDelete('CASCADE');
    t.text('recipient').notNullable();
    t.text('target_url');
    t.text('email');
    t.jsonb('payload').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_error');
    t.integer('last_status');
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['event_id', 'recipient']);
  });
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_recipient_check check (recipient in ('owner', 'finance'))`);
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_status_check check (status in ('pending', 'delivered', 'failed', 'no_target'))`);
  // The worker's claim scans only what is due; delivered rows accumulate and must not slow it down.
  await knex.raw(`create index notification_outbox_due on notification_outbox (next_attempt_at) where status = 'pending'`);

  await knex.schema.createTable('budget_changes', (t) => {
    t.bigIncrements('id').primary();
    // No foreign key: the audit outlives the budget it describes.
    t.integer('budget_id').notNullable();
    t.text('action').notNullable();
    t.text('actor').notNullable();
    t.text('reason');
    t.jsonb('before');
    t.jsonb('after').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['budget_id', 'created_at']);
  });
  await knex.raw(`alter table budget_changes add constraint budget_changes_action_check check (action in ('create', 'set', 'extend'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('budget_changes');
  await knex.schema.dropTableIfExists('notification_outbox');
  await knex.schema.dropTableIfExists('budget_tier_events');
}
