import type { Knex } from 'knex';

/**
 * The price book becomes living data (issue 15).
 * - prices: a row is per model × service tier (standard, flex, priority, batch) × effective_from, with the
 *   1-hour cache write price beside the 5-minute one (null: the provider has no such kind for the model), and
 *   when it was recorded. History is never edited: a change is a new row (migration 015 forbids deletes).
 * - model_aliases: aliases and dated snapshots of a catalog model, per provider
 *   (anthropic claude-haiku-4-5-20251001 → claude-haiku-4-5). The policy sees the catalog model.
 * - usage_events: cache_write_1h_tokens (the part of cache_write_tokens written for an hour, priced apart),
 *   service_tier (the tier the provider says served the call) and cost_estimated (the model had no price in
 *   force and the policy allowed the call on an estimate: the row is flagged, never a silent 0).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('prices', (t) => {
    t.text('service_tier').notNullable().defaultTo('standard');
    t.decimal('cache_write_1h_per_mtok', 20, 8);
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`alter table prices add constraint prices_service_tier_check check (service_tier in ('standard', 'flex', 'priority', 'batch'))`);
  await knex.raw('alter table prices drop constraint if exists prices_model_id_effective_from_unique');
  await knex.raw('alter table prices add constraint prices_model_tier_from_unique unique (model_id, service_tier, effective_from)');

  await knex.schema.createTable('model_aliases', (t) => {
    t.text('provider_id').notNullable().references('providers.id');
    t.text('alias').notNullable();
    t.text('model_id').notNullable().references('models.id');
    t.primary(['provider_id', 'alias']);
  });

  await knex.schema.alterTable('usage_events', (t) => {
    t.bigInteger('cache_write_1h_tokens').notNullable().defaultTo(0);
    t.text('service_tier').notNullable().defaultTo('standard');
    t.boolean('cost_estimated').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => {
    t.dropColumn('cost_estimated');
    t.dropColumn('service_tier');
    t.dropColumn('cache_write_1h_tokens');
  });
  await knex.schema.dropTableIfExists('model_aliases');
  await knex.raw('alter table prices drop constraint if exists prices_model_tier_from_unique');
  // Only standard rows fit the old key; the others cannot be deleted (migration 015), so going down with them fails loudly.
  await knex.raw('alter table prices add constraint prices_model_id_effective_from_unique unique (model_id, effective_from)');
  await knex.raw('alter table prices drop constraint if exists prices_service_tier_check');
  await knex.schema.alterTable('prices', (t) => {
    t.dropColumn('recorded_at');
    t.dropColumn('cache_write_1h_per_mtok');
    t.dropColumn('service_tier');
  });
}
