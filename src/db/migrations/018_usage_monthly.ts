import type { Knex } from 'knex';
import { USAGE_MONTHLY_FROM_HOURLY } from '../rollups.js';

/**
 * usage_monthly: the hourly rollup summed per billing month (accounting_period), kept by the writer in the
 * same statement as the others. A month's chargeback without a DAY grouping reads its few hundred rows
 * instead of the month's ~14,000 hourly ones (10 million events a year in the bench).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('usage_monthly', (t) => {
    t.text('accounting_period').notNullable();
    for (const key of ['bu_id', 'use_case_id', 'agent_id', 'provider', 'model_served']) t.text(key).notNullable();
    for (const n of ['calls', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'partial_calls', 'error_calls']) {
      t.bigInteger(n).notNullable().defaultTo(0);
    }
    t.decimal('cost', null).notNullable().defaultTo(0);
    t.primary(['accounting_period', 'bu_id', 'use_case_id', 'agent_id', 'provider', 'model_served']);
  });
  await knex.raw(USAGE_MONTHLY_FROM_HOURLY);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('usage_monthly');
}
