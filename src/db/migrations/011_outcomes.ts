import type { Knex } from 'knex';

/**
 * Outcome metrics (cost per outcome), session trees (parent ids) and closed accounting periods.
 *
 * accounting_period is the month of ts, or the next open month when that month was closed before the row
 * arrived. The metering writer supplies it in its INSERT (a hash join of the batch with the tiny
 * period_closes table on `carry_to`: about free per row); a BEFORE INSERT trigger fills it for any other
 * writer (COPY, psql) and only fires when the value is missing, because a per-row PL/pgSQL probe costs
 * ~10 µs a row, several times the insert itself. Both look period_closes up inside the inserting
 * statement, after it has locked usage_events, so neither can race `period close` (which takes a SHARE
 * lock on usage_events; see src/db/periods.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outcome_points', (t) => {
    t.text('use_case_id').notNullable().references('use_cases.id');
    t.text('metric').notNullable();
    t.timestamp('ts', { useTz: true }).notNullable();
    // Unconstrained numeric: a metric can be a ratio (0.1834) or revenue (1250000.50); never a float.
    t.specificType('value', 'numeric').notNullable();
    t.text('source').notNullable().defaultTo('api');
    t.timestamp('ingested_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['use_case_id', 'metric', 'ts']);
  });

  await knex.schema.createTable('period_closes', (t) => {
    t.text('period').primary();
    t.timestamp('closed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('closed_by').notNullable();
    t.jsonb('totals').notNullable();
    // The first open month after this one, where its late rows are billed (kept by closePeriod).
    t.text('carry_to').notNullable();
  });
  await knex.raw(`alter table period_closes add constraint period_closes_period_check check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$')`);

  // 005 (budgets v2) adds parent_request_id too; whichever runs first creates it.
  if (!(await knex.schema.hasColumn('usage_events', 'parent_request_id'))) {
    await knex.schema.alterTable('usage_events', (t) => t.text('parent_request_id'));
  }
  await knex.schema.alterTable('usage_events', (t) => {
    t.text('accounting_period');
    t.index(['session_id', 'ts'], 'usage_events_session_ts_index');
  });
  await knex.raw(`update usage_events set accounting_period = to_char(ts at time zone 'UTC', 'YYYY-MM')`);
  await knex.raw(`alter table usage_events alter column accounting_period set not null`);
  await knex.schema.alterTable('usage_events', (t) => t.index(['accounting_period'], 'usage_events_accounting_period_index'));

  await knex.raw(`
    create function usage_events_accounting_period() returns trigger language plpgsql as $$
    declare
      month date := date_trunc('month', new.ts at time zone 'UTC')::date;
    begin
      while exists (select 1 from period_closes where period = to_char(month, 'YYYY-MM')) loop
        month := (month + interval '1 month')::date;
      end loop;
      new.accounting_period := to_char(month, 'YYYY-MM');
      return new;
    end $$`);
  await knex.raw(`
    create trigger usage_events_accounting_period before insert on usage_events
    for each row when (new.accounting_period is null) execute function usage_events_accounting_period()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists usage_events_accounting_period on usage_events');
  await knex.raw('drop function if exists usage_events_accounting_period()');
  await knex.schema.alterTable('usage_events', (t) => {
    t.dropIndex(['accounting_period'], 'usage_events_accounting_period_index');
    t.dropIndex(['session_id', 'ts'], 'usage_events_session_ts_index');
    t.dropColumn('accounting_period');
  });
  // parent_request_id is left to 005's down, which owns it when both ran.
  await knex.schema.dropTableIfExists('period_closes');
  await knex.schema.dropTableIfExists('outcome_points');
}
