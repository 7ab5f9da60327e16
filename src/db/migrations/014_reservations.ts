import type { Knex } from 'knex';

/**
 * One reservation row per call instead of one per call and budget: the hot path inserts one row (two index
 * entries instead of six), and the ledger writer, a denial's release and the expiry sweep delete one. The
 * budgets, period starts, keys and amounts travel as parallel arrays in budget-id order. A deleted budget's
 * entries stay in the arrays (no foreign key on an array element); whoever gives a reservation back skips
 * budgets that no longer exist, as their counters went with them.
 * Reservations in flight at the upgrade are carried over, so the counters' `reserved` still adds up.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('budget_call_reservations', (t) => {
    t.text('request_id').primary();
    t.specificType('budget_ids', 'int4[]').notNullable();
    t.specificType('period_starts', 'timestamptz[]').notNullable();
    t.specificType('keys', 'text[]').notNullable();
    t.specificType('amounts', 'numeric(24, 12)[]').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at']);
  });
  await knex.raw(`
    insert into budget_call_reservations (request_id, budget_ids, period_starts, keys, amounts, expires_at)
    select request_id, array_agg(budget_id order by budget_id), array_agg(period_start order by budget_id),
      array_agg(key order by budget_id), array_agg(amount order by budget_id), max(expires_at)
    from budget_reservations group by request_id`);
  await knex.schema.dropTable('budget_reservations');
  await renameWithIndexes(knex, 'budget_call_reservations', 'budget_reservations');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('budget_reservations_per_budget', (t) => {
    t.text('request_id').notNullable();
    t.integer('budget_id').notNullable().references('budgets.id').onDelete('CASCADE');
    t.timestamp('period_start', { useTz: true }).notNullable();
    t.text('key').notNullable().defaultTo('');
    t.decimal('amount', 24, 12).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['request_id', 'budget_id']);
    t.index(['expires_at']);
  });
  await knex.raw(`
    insert into budget_reservations_per_budget (request_id, budget_id, period_start, key, amount, expires_at)
    select r.request_id, u.budget_id, u.period_start, u.key, u.amount, r.expires_at
    from budget_reservations r, unnest(r.budget_ids, r.period_starts, r.keys, r.amounts) as u(budget_id, period_start, key, amount)
    where exists (select 1 from budgets b where b.id = u.budget_id)`);
  await knex.schema.dropTable('budget_reservations');
  await renameWithIndexes(knex, 'budget_reservations_per_budget', 'budget_reservations');
}

// Keeps the index names knex would have given the table had it been created under its final name.
async function renameWithIndexes(knex: Knex, from: string, to: string): Promise<void> {
  await knex.schema.renameTable(from, to);
  await knex.raw(`alter index ${from}_pkey rename to ${to}_pkey`);
  await knex.raw(`alter index ${from}_expires_at_index rename to ${to}_expires_at_index`);
}
