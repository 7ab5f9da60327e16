import type { Knex } from 'knex';

/**
 * The council's adjacency feature: the catalog's class couplings and council contact, the stored runs of the
 * analysis (the graph as the council saw it), the alerts with their lifecycle, and the notification outbox
 * generalized so that a row belongs to a tier event OR an alert (same worker, same delivery state).
 */
export async function up(knex: Knex): Promise<void> {
  // Undirected: {from, to} and {to, from} mean the same coupling; the analysis takes the larger weight.
  await knex.schema.createTable('class_couplings', (t) => {
    t.text('from_class').notNullable();
    t.text('to_class').notNullable();
    t.decimal('weight', 6, 4).notNullable().defaultTo(1);
    t.primary(['from_class', 'to_class']);
  });
  await knex.raw(`alter table class_couplings add constraint class_couplings_weight_check check (weight > 0 and weight <= 1)`);

  // One council, contacted like a BU's owner or finance partner (name, email, optional webhook URL).
  await knex.schema.createTable('council', (t) => {
    t.text('id').primary().defaultTo('council');
    t.text('name').notNullable();
    t.text('email').notNullable();
    t.text('webhook_url');
  });
  await knex.raw(`alter table council add constraint council_single_row check (id = 'council')`);

  await knex.schema.createTable('adjacency_runs', (t) => {
    t.bigIncrements('id').primary();
    t.text('period');
    t.timestamp('from_ts', { useTz: true }).notNullable();
    t.timestamp('to_ts', { useTz: true }).notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true }).notNullable();
    t.text('triggered_by').notNullable();
    t.jsonb('options').notNullable();
    // nodes (with x/y and community), edges, communities, currency: what the council's page draws.
    t.jsonb('result').notNullable();
    t.integer('alerts_raised').notNullable().defaultTo(0);
    t.integer('alerts_new').notNullable().defaultTo(0);
    t.index(['period', 'id']);
  });

  await knex.schema.createTable('adjacency_alerts', (t) => {
    t.bigIncrements('id').primary();
    // The period and the sorted pair: one alert per pair and month, whatever signals fire run after run.
    t.text('key').notNullable().unique();
    t.text('period').notNullable();
    t.text('status').notNullable().defaultTo('open');
    t.specificType('pair', 'text[]').notNullable();
    t.specificType('bus', 'text[]').notNullable();
    t.double('weight').notNullable();
    t.specificType('signals', 'text[]').notNullable();
    t.jsonb('evidence').notNullable();
    t.jsonb('sides').notNullable();
    t.timestamp('first_seen_at', { useTz: true }).notNullable();
    t.timestamp('last_seen_at', { useTz: true }).notNullable();
    t.integer('runs').notNullable().defaultTo(1);
    t.bigInteger('first_run_id').notNullable().references('adjacency_runs.id');
    t.bigInteger('last_run_id').notNullable().references('adjacency_runs.id');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'id']);
    t.index(['period', 'id']);
  });
  await knex.raw(`alter table adjacency_alerts add constraint adjacency_alerts_status_check check (status in ('open', 'acknowledged', 'escalated', 'resolved'))`);

  await knex.schema.createTable('adjacency_alert_transitions', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('alert_id').notNullable().references('adjacency_alerts.id').onDelete('CASCADE');
    t.text('from_status');
    t.text('to_status').notNullable();
    t.text('by').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('note');
    t.index(['alert_id', 'id']);
  });

  await knex.schema.alterTable('notification_outbox', (t) => {
    t.bigInteger('alert_id').references('adjacency_alerts.id').onDelete('CASCADE');
    t.unique(['alert_id', 'recipient']);
  });
  await knex.raw(`alter table notification_outbox alter column event_id drop not null`);
  await knex.raw(`alter table notification_outbox drop constraint notification_outbox_recipient_check`);
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_recipient_check check (recipient in ('owner', 'finance', 'council'))`);
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_subject_check check ((event_id is null) <> (alert_id is null))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex('notification_outbox').whereNotNull('alert_id').delete();
  await knex.raw(`alter table notification_outbox drop constraint if exists notification_outbox_subject_check`);
  await knex.raw(`alter table notification_outbox drop constraint if exists notification_outbox_recipient_check`);
  await knex.raw(`alter table notification_outbox add constraint notification_outbox_recipient_check check (recipient in ('owner', 'finance'))`);
  await knex.raw(`alter table notification_outbox alter column event_id set not null`);
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.dropUnique(['alert_id', 'recipient']);
    t.dropColumn('alert_id');
  });
  for (const table of ['adjacency_alert_transitions', 'adjacency_alerts', 'adjacency_runs', 'council', 'class_couplings']) {
    await knex.schema.dropTableIfExists(table);
  }
}
