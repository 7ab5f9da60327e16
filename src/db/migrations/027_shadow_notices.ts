import type { Knex } from 'knex';

/**
 * A provider's day whose shadow spend reached the threshold is recorded once (unique provider × day, however
 * many runs see it) and, in the same transaction, queued for finance in the notification outbox, which
 * gains a third kind of subject beside tier events and adjacency alerts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('shadow_spend_notices', (t) => {
    t.bigIncrements('id').primary();
    t.text('provider').notNullable();
    t.date('day').notNullable();
    t.decimal('reported', null).notNullable();
    t.decimal('metered', null).notNullable();
    t.decimal('difference', null).notNullable();
    t.decimal('threshold', null).notNullable();
    t.bigInteger('run_id').notNullable().references('reconcile_runs.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['provider', 'day']);
  });
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.bigInteger('shadow_notice_id').references('shadow_spend_notices.id').onDelete('CASCADE');
    t.unique(['shadow_notice_id', 'recipient']);
  });
  await knex.raw(`alter table notification_outbox drop constraint notification_outbox_subject_check`);
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_subject_check check (num_nonnulls(event_id, alert_id, reforecast_id, shadow_notice_id) = 1)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex('notification_outbox').whereNotNull('shadow_notice_id').delete();
  await knex.raw(`alter table notification_outbox drop constraint notification_outbox_subject_check`);
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_subject_check check (num_nonnulls(event_id, alert_id, reforecast_id) = 1)`);
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.dropUnique(['shadow_notice_id', 'recipient']);
    t.dropColumn('shadow_notice_id');
  });
  await knex.schema.dropTableIfExists('shadow_spend_notices');
}
