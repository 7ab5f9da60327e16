import type { Knex } from 'knex';

/**
 * Budget leases: a replica holds a slice of a budget's room (and, for a session cap with a number of calls, some
 * of its calls) and admits calls against it in memory, so that a call makes no statement in the common case.
 * A lease counts in its counter row's `reserved` (and `calls`) like reservations do, so every replica and the
 * policy see leased room as taken. The replica settles its leases every second or so (gives back what its calls
 * spent once the ledger has it, asks for more, renews the expiry) with one statement; a dead replica's leases
 * expire and are swept. The two functions lock the counter rows in (budget, period, key) order, as the
 * reservation statement and the ledger writer do, so they cannot deadlock with them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('budget_leases', (t) => {
    t.integer('budget_id').notNullable().references('budgets.id').onDelete('CASCADE');
    t.timestamp('period_start', { useTz: true }).notNullable();
    t.text('key').notNullable().defaultTo('');
    // The replica holding the lease (its process's random id).
    t.text('holder').notNullable();
    t.decimal('amount', 24, 12).notNullable().defaultTo(0);
    t.integer('calls').notNullable().defaultTo(0);
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['budget_id', 'period_start', 'key', 'holder']);
    t.index(['expires_at']);
    t.index(['holder']);
  });
  await knex.raw(ACQUIRE_FUNCTION);
  await knex.raw(SETTLE_FUNCTION);
  // Replicas admit calls against limits they keep in memory: any change to a budget tells them at once, whoever
  // makes it (CLI, GraphQL, SQL), when its transaction commits.
  await knex.raw(`
    create or replace function tollgate_budgets_changed() returns trigger language plpgsql as $fn$
    begin
      perform pg_notify('${BUDGETS_CHANNEL}', '');
      return null;
    end
    $fn$`);
  await knex.raw(`create trigger budgets_changed after insert or update or delete or truncate on budgets
    for each statement execute function tollgate_budgets_changed()`);
}

/** The channel a change to the budgets table is announced on (see src/budgets/gate.ts). */
export const BUDGETS_CHANNEL = 'tollgate_budgets';

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists budgets_changed on budgets');
  await knex.raw('drop function if exists tollgate_budgets_changed()');
  await knex.raw('drop function if exists tollgate_lease_settle(text, timestamptz, numeric, numeric, numeric, int[], timestamptz[], text[], numeric[], int[], numeric[], int[])');
  await knex.raw('drop function if exists tollgate_lease_acquire(text, timestamptz, timestamptz, text, text, text, text, numeric, numeric, int, numeric, numeric, numeric, numeric)');
  // Leased room goes back before the table does, so that the counters' `reserved` still adds up.
  await knex.raw(`
    update budget_counters bc set reserved = bc.reserved - l.amount, calls = bc.calls - l.calls
    from (select budget_id, period_start, key, sum(amount) as amount, sum(calls) as calls from budget_leases group by 1, 2, 3) l
    where bc.budget_id = l.budget_id and bc.period_start = l.period_start and bc.key = l.key`);
  await knex.schema.dropTableIfExists('budget_leases');
}

/**
 * The room a budget's cap leaves (null: no amount cap, a session cap on calls only) and the calls its call cap
 * leaves (null: none). `hard_cap` is the policy's hard-cap ratio; a session cap's limit is its cap.
 */
const ROOM = `
  cap := case when b.limit_amount is null then null when b.scope = 'session' then b.limit_amount else b.limit_amount * p_hard_cap end;
  room := cap - c.spent - c.reserved;
  call_room := b.max_calls - c.calls;`;

/**
 * Grants the replica `p_holder` a lease (or more of one) on every budget that applies to a call: `p_usd` or
 * `p_tokens` (by the budget's unit) and `p_calls` calls where the budget caps calls, or `p_min_share` of the cap
 * when that is more, but only where that is at most `p_max_share` of the cap and the room left is at least
 * `p_headroom` times it; elsewhere nothing (the call
 * then reserves exactly, as every call near a cap, or under a budget too small to slice, does). Returns each applicable budget with its counters after the grant and the holder's lease.
 */
export const ACQUIRE_FUNCTION = `
create or replace function tollgate_lease_acquire(
  p_holder text, p_at timestamptz, p_expires timestamptz, p_bu text, p_use_case text, p_agent text, p_session text,
  p_usd numeric, p_tokens numeric, p_calls int, p_headroom numeric, p_hard_cap numeric, p_min_share numeric, p_max_share numeric
) returns table (
  id int, scope text, scope_id text, unit text, period text, limit_amount numeric, max_calls int, period_start timestamptz,
  key text, spent numeric, reserved numeric, calls bigint, lease_amount numeric, lease_calls int, granted numeric, granted_calls int
) language plpgsql as $fn$
#variable_conflict use_column
declare
  b record; c record; cap numeric; room numeric; call_room bigint; want numeric; want_calls int; g numeric; gc int;
  ps timestamptz; k text; held numeric; held_calls int;
begin
  for b in
    select bb.* from budgets bb
    where (bb.scope = 'use_case' and bb.scope_id = p_use_case) or (bb.scope = 'bu' and bb.scope_id = p_bu)
      or (bb.scope = 'agent' and bb.scope_id = p_agent) or (bb.scope = 'session' and bb.scope_id in (p_use_case, '*'))
    order by bb.id
  loop
    ps := date_trunc(b.period, p_at at time zone 'UTC') at time zone 'UTC';
    k := case when b.scope = 'session' then p_session else '' end;
    insert into budget_counters (budget_id, period_start, key) values (b.id, ps, k) on conflict do nothing;
    select * into c from budget_counters bc where bc.budget_id = b.id and bc.period_start = ps and bc.key = k for update;
    ${ROOM}
    held := null; held_calls := null;
    select bl.amount, bl.calls into held, held_calls from budget_leases bl
    where bl.budget_id = b.id and bl.period_start = ps and bl.key = k and bl.holder = p_holder for update;
    -- A slice: what the caller asks for (a few calls like this one), at least p_min_share of the cap.
    want := greatest(case when b.unit = 'usd' then p_usd else p_tokens end, cap * p_min_share);
    want_calls := greatest(p_calls, floor(b.max_calls * p_min_share));
    g := case when cap is not null and want > 0 and coalesce(held, 0) + want <= cap * p_max_share
      and room >= want * p_headroom then want else 0 end;
    gc := case when b.max_calls is not null and want_calls > 0 and coalesce(held_calls, 0) + want_calls <= b.max_calls * p_max_share
      and call_room >= want_calls * p_headroom then want_calls else 0 end;
    if g > 0 or gc > 0 then
      insert into budget_leases as bl (budget_id, period_start, key, holder, amount, calls, expires_at)
      values (b.id, ps, k, p_holder, g, gc, p_expires)
      on conflict on constraint budget_leases_pkey
        do update set amount = bl.amount + g, calls = bl.calls + gc, expires_at = greatest(bl.expires_at, p_expires)
      returning bl.amount, bl.calls into held, held_calls;
      update budget_counters bc set reserved = bc.reserved + g, calls = bc.calls + gc
      where bc.budget_id = b.id and bc.period_start = ps and bc.key = k;
    end if;
    return query select b.id, b.scope::text, b.scope_id::text, b.unit::text, b.period::text, b.limit_amount, b.max_calls, ps, k,
      c.spent, c.reserved + g, c.calls + gc, coalesce(held, 0), coalesce(held_calls, 0), g, gc;
  end loop;
end
$fn$`;

/**
 * Settles the holder's leases, given in (budget, period, key) order: gives back `p_release` (amounts its calls
 * spent that the ledger now counts, and room it no longer wants; never more than the lease holds), then asks
 * for `p_want` more where the room left is at least `p_headroom` times it, renews the expiry, and drops leases
 * left empty. Returns each lease's counters and what the holder holds after.
 */
export const SETTLE_FUNCTION = `
create or replace function tollgate_lease_settle(
  p_holder text, p_expires timestamptz, p_headroom numeric, p_hard_cap numeric, p_max_share numeric,
  p_budget_ids int[], p_period_starts timestamptz[], p_keys text[],
  p_release numeric[], p_release_calls int[], p_want numeric[], p_want_calls int[]
) returns table (
  id int, period_start timestamptz, key text, limit_amount numeric, max_calls int,
  spent numeric, reserved numeric, calls bigint, lease_amount numeric, lease_calls int
) language plpgsql as $fn$
#variable_conflict use_column
declare
  i int; b record; c record; l record; cap numeric; room numeric; call_room bigint; rel numeric; relc int; g numeric; gc int;
begin
  for i in 1 .. coalesce(array_length(p_budget_ids, 1), 0) loop
    -- Swept (expired) or its budget deleted: nothing is held any more, no row comes back, the caller forgets it.
    select * into b from budgets bb where bb.id = p_budget_ids[i];
    continue when not found;
    select * into c from budget_counters bc
    where bc.budget_id = p_budget_ids[i] and bc.period_start = p_period_starts[i] and bc.key = p_keys[i] for update;
    continue when not found;
    select * into l from budget_leases bl
    where bl.budget_id = p_budget_ids[i] and bl.period_start = p_period_starts[i] and bl.key = p_keys[i] and bl.holder = p_holder for update;
    continue when not found;
    rel := least(p_release[i], l.amount);
    relc := least(p_release_calls[i], l.calls);
    update budget_counters bc set reserved = bc.reserved - rel, calls = bc.calls - relc
    where bc.budget_id = c.budget_id and bc.period_start = c.period_start and bc.key = c.key
    returning * into c;
    ${ROOM}
    g := case when p_want[i] > 0 and cap is not null and l.amount - rel + p_want[i] <= cap * p_max_share
      and room >= p_want[i] * p_headroom then p_want[i] else 0 end;
    gc := case when p_want_calls[i] > 0 and b.max_calls is not null and l.calls - relc + p_want_calls[i] <= b.max_calls * p_max_share
      and call_room >= p_want_calls[i] * p_headroom then p_want_calls[i] else 0 end;
    if g > 0 or gc > 0 then
      update budget_counters bc set reserved = bc.reserved + g, calls = bc.calls + gc
      where bc.budget_id = c.budget_id and bc.period_start = c.period_start and bc.key = c.key
      returning * into c;
    end if;
    if l.amount - rel + g = 0 and l.calls - relc + gc = 0 then
      delete from budget_leases bl where bl.budget_id = l.budget_id and bl.period_start = l.period_start and bl.key = l.key and bl.holder = p_holder;
    else
      update budget_leases bl set amount = bl.amount - rel + g, calls = bl.calls - relc + gc, expires_at = p_expires
      where bl.budget_id = l.budget_id and bl.period_start = l.period_start and bl.key = l.key and bl.holder = p_holder;
    end if;
    return query select c.budget_id, c.period_start, c.key, b.limit_amount, b.max_calls, c.spent, c.reserved, c.calls,
      l.amount - rel + g, l.calls - relc + gc;
  end loop;
end
$fn$`;
