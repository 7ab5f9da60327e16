import type { Knex } from 'knex';
import { USAGE_ROLLUP_FROM_LEDGER } from '../rollups.js';

/**
 * usage_hourly keeps each row's accounting (billing) period beside its hour. The two differ only for events
 * that arrived after their month was closed (`tollgate period close`): those are billed in the next open
 * month. With the period in the key, the month's chargeback (GraphQL, reports) and the FOCUS export count
 * the same rows: a closed month's figures never move, and the late event shows up in the month that bills it.
 * The rollup is rebuilt from the ledger, which is the truth (a late event already rolled up under its hour
 * moves to its billing month).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table usage_hourly add column accounting_period text');
  await knex.raw('delete from usage_hourly');
  await knex.raw('alter table usage_hourly drop constraint usage_hourly_pkey');
  await knex.raw(`alter table usage_hourly add primary key (hour, bu_id, use_case_id, agent_id, provider, model_served, accounting_period)`);
  await knex.raw(USAGE_ROLLUP_FROM_LEDGER);
  await knex.raw('create index usage_hourly_accounting_period_index on usage_hourly (accounting_period, bu_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists usage_hourly_accounting_period_index');
  await knex.raw('delete from usage_hourly');
  await knex.raw('alter table usage_hourly drop constraint usage_hourly_pkey');
  await knex.raw('alter table usage_hourly drop column accounting_period');
  await knex.raw('alter table usage_hourly add primary key (hour, bu_id, use_case_id, agent_id, provider, model_served)');
}
