import type { Knex } from 'knex';

/**
 * usage_review: what a provider reported for a call that was not billed as reported (src/metering/bound.ts):
 * usage past what the call could have used (billed at the bound) or a report that was not token counts (billed
 * as if there were none). The ledger row (same request_id, flagged) is what budgets and reports count; this is
 * for finance to look at (`tollgate metering review`, GraphQL `usageReview`), never added to a budget. Written
 * by the metering writer in the ledger row's transaction.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('usage_review', (t) => {
    t.text('request_id').primary();
    t.timestamp('ts', { useTz: true }).notNullable();
    for (const key of ['bu_id', 'use_case_id', 'agent_id', 'provider', 'endpoint', 'model_served', 'reason']) t.text(key).notNullable();
    t.jsonb('reported').notNullable();
    t.decimal('reported_cost', null);
    t.bigInteger('bound_input_tokens').notNullable();
    t.bigInteger('bound_output_tokens').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['ts']);
    t.index(['bu_id', 'ts']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('usage_review');
}
