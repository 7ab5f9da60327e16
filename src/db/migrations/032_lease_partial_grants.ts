import type { Knex } from 'knex';
import { ACQUIRE_FUNCTION, SETTLE_FUNCTION } from './031_budget_leases.js';

/**
 * Leases grant what fits under the largest share instead of all or nothing. A busy lease still holds its calls in
 * flight and those the ledger has not counted yet when it asks for more; asking for a full slice then passed
 * `p_max_share` of the cap and got nothing, so a busy session (500 calls a day: at most 25 held) fell back to an
 * exact reservation per call until the next settlement. Now the grant is the slice asked for, cut to what the
 * share leaves; near the cap (room under `p_headroom` slices) it is still nothing.
 */
const GRANTS: [from: string, to: string][] = [
  [
    `g := case when cap is not null and want > 0 and coalesce(held, 0) + want <= cap * p_max_share
      and room >= want * p_headroom then want else 0 end;`,
    `g := case when cap is not null and want > 0 and room >= want * p_headroom
      then greatest(0, least(want, cap * p_max_share - coalesce(held, 0))) else 0 end;`,
  ],
  [
    `gc := case when b.max_calls is not null and want_calls > 0 and coalesce(held_calls, 0) + want_calls <= b.max_calls * p_max_share
      and call_room >= want_calls * p_headroom then want_calls else 0 end;`,
    `gc := case when b.max_calls is not null and want_calls > 0 and call_room >= want_calls * p_headroom
      then greatest(0, least(want_calls, floor(b.max_calls * p_max_share)::int - coalesce(held_calls, 0))) else 0 end;`,
  ],
  [
    `g := case when p_want[i] > 0 and cap is not null and l.amount - rel + p_want[i] <= cap * p_max_share
      and room >= p_want[i] * p_headroom then p_want[i] else 0 end;`,
    `g := case when p_want[i] > 0 and cap is not null and room >= p_want[i] * p_headroom
      then greatest(0, least(p_want[i], cap * p_max_share - (l.amount - rel))) else 0 end;`,
  ],
  [
    `gc := case when p_want_calls[i] > 0 and b.max_calls is not null and l.calls - relc + p_want_calls[i] <= b.max_calls * p_max_share
      and call_room >= p_want_calls[i] * p_headroom then p_want_calls[i] else 0 end;`,
    `gc := case when p_want_calls[i] > 0 and b.max_calls is not null and call_room >= p_want_calls[i] * p_headroom
      then greatest(0, least(p_want_calls[i], floor(b.max_calls * p_max_share)::int - (l.calls - relc))) else 0 end;`,
  ],
];

/** The 031 function with its grants rewritten; throws if one is not found (031's text changed). */
function rewrite(fn: string): string {
  let out = fn;
  for (const [from, to] of GRANTS) {
    if (!out.includes(from)) continue;
    out = out.replace(from, to);
  }
  if (GRANTS.filter(([from]) => fn.includes(from)).length !== 2) throw new Error('032_lease_partial_grants: the grants of 031 were not found');
  return out;
}

/** tollgate_lease_acquire as this migration leaves it (042 narrows it to the budgets asked for). */
export const PARTIAL_ACQUIRE_FUNCTION = rewrite(ACQUIRE_FUNCTION);

export async function up(knex: Knex): Promise<void> {
  await knex.raw(PARTIAL_ACQUIRE_FUNCTION);
  await knex.raw(rewrite(SETTLE_FUNCTION));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(ACQUIRE_FUNCTION);
  await knex.raw(SETTLE_FUNCTION);
}
