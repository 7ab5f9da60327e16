import type { Knex } from 'knex';

/**
 * Tool names per call, for the adjacency analysis (shared tools between use cases of different BUs).
 * `usage_events.tools` holds the sorted, distinct names a call declared (OpenAI `tools`, Anthropic `tools`) or
 * that its response called (`tool_calls`, `tool_use`); null when none. Names only: never arguments or text.
 * `tool_usage_daily` counts, per UTC day, BU, use case and tool, the calls that declared or called the tool;
 * the ledger writer maintains it in the same statement as the other rollups, so the analysis never scans the
 * ledger for tools.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => t.specificType('tools', 'text[]'));
  await knex.schema.createTable('tool_usage_daily', (t) => {
    t.date('day').notNullable();
    t.text('bu_id').notNullable();
    t.text('use_case_id').notNullable();
    t.text('tool').notNullable();
    t.bigInteger('calls').notNullable().defaultTo(0);
    t.primary(['day', 'use_case_id', 'tool', 'bu_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('tool_usage_daily');
  await knex.schema.alterTable('usage_events', (t) => t.dropColumn('tools'));
}
