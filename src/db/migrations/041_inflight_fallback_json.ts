import type { Knex } from 'knex';

/**
 * An in-flight call's fallback event is written once, read back only if its gateway dies, and never queried
 * inside: json keeps the text as sent, where jsonb built a binary document for every call (ingest bench, 50,000
 * fallbacks of ~800 bytes: about 13 µs of Postgres CPU each as jsonb, 5.5 as json).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table inflight_calls alter column fallback type json using fallback::json');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table inflight_calls alter column fallback type jsonb using fallback::jsonb');
}
