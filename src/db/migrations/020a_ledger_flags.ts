import type { Knex } from 'knex';

/**
 * usage_events.flags: why a row is not simply what the provider reported (a dead gateway's fallback, a usage
 * report that held no valid counts, usage past what the call could have used, a record Postgres refused that
 * was written sanitized…; README, "Flags on ledger rows"). Null for an ordinary row, so existing rows and the
 * writer's common case cost nothing; adding a nullable column without a default rewrites no rows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => t.specificType('flags', 'text[]'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => t.dropColumn('flags'));
}
