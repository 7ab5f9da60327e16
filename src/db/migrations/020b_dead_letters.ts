import type { Knex } from 'knex';

/**
 * metering_dead_letters: journal records Postgres refused as data (SQLSTATE classes 22, 23, 54: a NUL byte, a
 * value out of range, an index row too large), set aside by the metering writer so that the rest keeps flowing,
 * queryable by operators (`tollgate metering dead-letters`). The record is kept as the JSON line the journal held,
 * in a text column: JSON text escapes NUL and lone surrogates, which jsonb (and the refused row) cannot hold.
 * `digest` (sha256 of that line) makes setting the same record aside again, when a segment is replayed, a no-op.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('metering_dead_letters', (t) => {
    t.bigIncrements('id').primary();
    t.text('digest').notNullable().unique();
    t.text('kind').notNullable();
    t.text('request_id').notNullable();
    t.text('sqlstate');
    t.text('error').notNullable();
    t.text('record').notNullable();
    // Whether a sanitized copy reached the ledger (or the decision log): the call is then metered, flagged.
    t.boolean('sanitized').notNullable().defaultTo(false);
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['recorded_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('metering_dead_letters');
}
