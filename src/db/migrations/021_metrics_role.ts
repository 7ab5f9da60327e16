import type { Knex } from 'knex';

/** API tokens of the `metrics` role: a Prometheus scraper reads /metrics without holding finance's or admin's powers. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table api_tokens drop constraint api_tokens_role_check');
  await knex.raw(`alter table api_tokens add constraint api_tokens_role_check check (role in ('finance', 'admin', 'council', 'bu-owner', 'metrics'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex('api_tokens').where({ role: 'metrics' }).delete();
  await knex.raw('alter table api_tokens drop constraint api_tokens_role_check');
  await knex.raw(`alter table api_tokens add constraint api_tokens_role_check check (role in ('finance', 'admin', 'council', 'bu-owner'))`);
}
