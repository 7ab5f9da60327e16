import type { Knex } from 'knex';

/**
 * Fewer b-trees for the writer to keep on the ledger, which is appended to in time order:
 * - ts and accounting_period get BRIN indexes (a summary per range of blocks) instead of b-trees. The reads
 *   on them are ranges of whole periods (a month's FOCUS export, a period's top sessions, the adjacency
 *   month), which a block-range index answers about as well, and it costs the writer next to nothing per row.
 *   Late events (replays after an outage, corrections carried to the next period) only widen a few ranges.
 * - usage_events_use_case_id_ts_index goes: no query reads the ledger by use case and time (reports read
 *   the rollups, budgets their counters).
 * Ingest bench, same run, 100,000 live events per batch size: writeBatch +5% with these indexes (the ledger's
 * indexes were still in memory at that size; a larger ledger gains more, its b-tree pages being random writes).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists usage_events_use_case_id_ts_index');
  await knex.raw('drop index if exists usage_events_ts_index');
  await knex.raw('drop index if exists usage_events_accounting_period_index');
  await knex.raw('create index usage_events_ts_brin on usage_events using brin (ts)');
  await knex.raw('create index usage_events_accounting_period_brin on usage_events using brin (accounting_period)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists usage_events_accounting_period_brin');
  await knex.raw('drop index if exists usage_events_ts_brin');
  await knex.raw('create index usage_events_accounting_period_index on usage_events (accounting_period)');
  await knex.raw('create index usage_events_ts_index on usage_events (ts)');
  await knex.raw('create index usage_events_use_case_id_ts_index on usage_events (use_case_id, ts)');
}
