import type { Knex } from 'knex';

/** Calls forwarded but not yet reported, so that a call whose gateway died is still metered. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('inflight_calls', (t) => {
    t.text('request_id').primary();
    t.timestamp('ts', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    // The usage event to write if the call never reports: partial, status 0, its estimated prompt.
    t.jsonb('fallback').notNullable();
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('inflight_calls');
}
