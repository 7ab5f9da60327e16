import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('agent_keys', (t) => {
    t.text('id').primary();
    t.text('agent_id').notNullable().references('agents.id');
    // sha256 of the whole key: keys are 256-bit random, so a slow hash would add latency and no safety.
    t.text('key_hash').notNullable().unique();
    t.text('key_prefix').notNullable();
    t.text('label');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
    t.index(['agent_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('agent_keys');
}
