import type { Knex } from 'knex';

/**
 * Re-forecasts when prices move (issue 15).
 * - price_changes_applied: a price row whose effective_from has come, once its budgets were re-forecast. The
 *   primary key makes it once, whichever replica (or import) gets there first.
 * - budget_reforecasts: a budget whose forecast to the end of its period crossed a tier because of a price
 *   change, with the old and new forecast; unique per budget, period and price row, so the owner hears once.
 * - notification_outbox gets a third subject beside tier events and adjacency alerts: a re-forecast.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('price_changes_applied', (t) => {
    t.integer('price_id').primary().references('prices.id');
    t.timestamp('applied_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('budgets_reforecast').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('budget_reforecasts', (t) => {
    t.bigIncrements('id').primary();
    t.integer('budget_id').notNullable().references('budgets.id').onDelete('CASCADE');
    t.timestamp('period_start', { useTz: true }).notNullable();
    t.integer('price_id').notNullable().references('prices.id');
    t.integer('previous_price_id').references('prices.id');
    t.decimal('old_forecast', 24, 12).notNullable();
    t.decimal('new_forecast', 24, 12).notNullable();
    t.text('old_tier').notNullable();
    t.text('new_tier').notNullable();
    t.timestamp('as_of', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['budget_id', 'period_start', 'price_id']);
  });
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.bigInteger('reforecast_id').references('budget_reforecasts.id').onDelete('CASCADE');
    t.unique(['reforecast_id', 'recipient']);
  });
  await knex.raw('alter table notification_outbox drop constraint if exists notification_outbox_subject_check');
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_subject_check
    check (num_nonnulls(event_id, alert_id, reforecast_id) = 1)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex('notification_outbox').whereNotNull('reforecast_id').delete();
  await knex.raw('alter table notification_outbox drop constraint if exists notification_outbox_subject_check');
  await knex.raw('alter table notification_outbox add constraint notification_outbox_subject_check check ((event_id is null) <> (alert_id is null))');
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.dropUnique(['reforecast_id', 'recipient']);
    t.dropColumn('reforecast_id');
  });
  await knex.schema.dropTableIfExists('budget_reforecasts');
  await knex.schema.dropTableIfExists('price_changes_applied');
}
