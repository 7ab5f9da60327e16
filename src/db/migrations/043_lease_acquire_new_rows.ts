import type { Knex } from 'knex';
import { ONLY_ACQUIRE_FUNCTION } from './042_lease_acquire_only.js';

/**
 * A lease asked for on a counter row that does not exist yet (a new session's, nearly every acquisition) is granted
 * with the row: the row is inserted holding the grant, then the lease row. Before, the function inserted an empty
 * row, read it back and locked it, looked for this replica's lease, then wrote the lease and updated the row: five
 * statements where two do. A new counter row has nothing spent or reserved and no lease
 * (lease rows are created only after their counter row, and both go only with their budget), so its grant is the
 * usual one on zeros. A row that exists (another replica's session, a budget whose lease was given back) takes the
 * path it took before. Lock order is unchanged: budgets in id order, the counter row before the lease row.
 */
export const NEW_ROWS_ACQUIRE_FUNCTION = `
create or replace function tollgate_lease_acquire(
  p_holder text, p_at timestamptz, p_expires timestamptz, p_bu text, p_use_case text, p_agent text, p_session text,
  p_usd numeric, p_tokens numeric, p_calls int, p_headroom numeric, p_hard_cap numeric, p_min_share numeric, p_max_share numeric,
  p_only int[] default null
) returns table (
  id int, scope text, scope_id text, unit text, period text, limit_amount numeric, max_calls int, period_start timestamptz,
  key text, spent numeric, reserved numeric, calls bigint, lease_amount numeric, lease_calls int, granted numeric, granted_calls int
) language plpgsql as $fn$
#variable_conflict use_column
declare
  b record; c record; cap numeric; room numeric; call_room bigint; want numeric; want_calls int; g numeric; gc int;
  ps timestamptz; k text; held numeric; held_calls int; fresh boolean;
begin
  for b in
    select bb.* from budgets bb
    where (p_only is null or bb.id = any(p_only))
      and ((bb.scope = 'use_case' and bb.scope_id = p_use_case) or (bb.scope = 'bu' and bb.scope_id = p_bu)
      or (bb.scope = 'agent' and bb.scope_id = p_agent) or (bb.scope = 'session' and bb.scope_id in (p_use_case, '*')))
    order by bb.id
  loop
    ps := date_trunc(b.period, p_at at time zone 'UTC') at time zone 'UTC';
    k := case when b.scope = 'session' then p_session else '' end;
    cap := case when b.limit_amount is null then null when b.scope = 'session' then b.limit_amount else b.limit_amount * p_hard_cap end;
    -- A slice: what the caller asks for (a few calls like this one), at least p_min_share of the cap.
    want := greatest(case when b.unit = 'usd' then p_usd else p_tokens end, cap * p_min_share);
    want_calls := greatest(p_calls, floor(b.max_calls * p_min_share));
    held := null; held_calls := null;

    -- A new counter row: the grant on zeros (room = cap, call_room = max_calls, nothing held), written with the row.
    g := case when cap is not null and want > 0 and cap >= want * p_headroom
      then greatest(0, least(want, cap * p_max_share)) else 0 end;
    gc := case when b.max_calls is not null and want_calls > 0 and b.max_calls >= want_calls * p_headroom
      then greatest(0, least(want_calls, floor(b.max_calls * p_max_share)::int)) else 0 end;
    insert into budget_counters as bc (budget_id, period_start, key, reserved, calls) values (b.id, ps, k, g, gc)
      on conflict do nothing
      returning * into c;
    fresh := found;
    if not fresh then
      -- The row exists: locked, read, and granted what its room and this replica's lease leave.
      select * into c from budget_counters bc where bc.budget_id = b.id and bc.period_start = ps and bc.key = k for update;
      room := cap - c.spent - c.reserved;
      call_room := b.max_calls - c.calls;
      select bl.amount, bl.calls into held, held_calls from budget_leases bl
      where bl.budget_id = b.id and bl.period_start = ps and bl.key = k and bl.holder = p_holder for update;
      g := case when cap is not null and want > 0 and room >= want * p_headroom
        then greatest(0, least(want, cap * p_max_share - coalesce(held, 0))) else 0 end;
      gc := case when b.max_calls is not null and want_calls > 0 and call_room >= want_calls * p_headroom
        then greatest(0, least(want_calls, floor(b.max_calls * p_max_share)::int - coalesce(held_calls, 0))) else 0 end;
    end if;
    if g > 0 or gc > 0 then
      insert into budget_leases as bl (budget_id, period_start, key, holder, amount, calls, expires_at)
      values (b.id, ps, k, p_holder, g, gc, p_expires)
      on conflict on constraint budget_leases_pkey
        do update set amount = bl.amount + g, calls = bl.calls + gc, expires_at = greatest(bl.expires_at, p_expires)
      returning bl.amount, bl.calls into held, held_calls;
      if not fresh then
        update budget_counters bc set reserved = bc.reserved + g, calls = bc.calls + gc
        where bc.budget_id = b.id and bc.period_start = ps and bc.key = k;
        c.reserved := c.reserved + g;
        c.calls := c.calls + gc;
      end if;
    end if;
    return query select b.id, b.scope::text, b.scope_id::text, b.unit::text, b.period::text, b.limit_amount, b.max_calls, ps, k,
      c.spent, c.reserved, c.calls, coalesce(held, 0), coalesce(held_calls, 0), g, gc;
  end loop;
end
$fn$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(NEW_ROWS_ACQUIRE_FUNCTION);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(ONLY_ACQUIRE_FUNCTION);
}
