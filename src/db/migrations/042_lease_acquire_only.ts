import type { Knex } from 'knex';
import { PARTIAL_ACQUIRE_FUNCTION } from './032_lease_partial_grants.js';

/**
 * A lease is asked for only on the budgets that need one. A call of a new session on a replica needs the session's
 * lease alone: the replica already holds the use case's and the BU's. tollgate_lease_acquire took every
 * applicable budget all the same, and locked each one's counter row (`for update`) even when it granted nothing
 * there, so each new session on each replica queued on the use case's row behind the ledger writer's transaction
 * (which holds that row until it commits) and made every other replica's new sessions queue behind it. With
 * `p_only` (budget ids; null: every applicable budget, as before) it reads and locks those budgets' rows only.
 */
const SIGNATURE = 'p_usd numeric, p_tokens numeric, p_calls int, p_headroom numeric, p_hard_cap numeric, p_min_share numeric, p_max_share numeric';
const REWRITES: [from: string, to: string][] = [
  [`${SIGNATURE}\n)`, `${SIGNATURE},\n  p_only int[] default null\n)`],
  [
    `    where (bb.scope = 'use_case' and bb.scope_id = p_use_case) or (bb.scope = 'bu' and bb.scope_id = p_bu)
      or (bb.scope = 'agent' and bb.scope_id = p_agent) or (bb.scope = 'session' and bb.scope_id in (p_use_case, '*'))`,
    `    where (p_only is null or bb.id = any(p_only))
      and ((bb.scope = 'use_case' and bb.scope_id = p_use_case) or (bb.scope = 'bu' and bb.scope_id = p_bu)
      or (bb.scope = 'agent' and bb.scope_id = p_agent) or (bb.scope = 'session' and bb.scope_id in (p_use_case, '*')))`,
  ],
];

const OLD_ARGS = 'text, timestamptz, timestamptz, text, text, text, text, numeric, numeric, int, numeric, numeric, numeric, numeric';

function rewrite(fn: string): string {
  let out = fn;
  for (const [from, to] of REWRITES) {
    if (!out.includes(from)) throw new Error('042_lease_acquire_only: tollgate_lease_acquire of 032 was not found as expected');
    out = out.replace(from, to);
  }
  return out;
}

/** tollgate_lease_acquire as this migration leaves it (043 grants a new counter row's lease with the row). */
export const ONLY_ACQUIRE_FUNCTION = rewrite(PARTIAL_ACQUIRE_FUNCTION);

export async function up(knex: Knex): Promise<void> {
  // A new argument makes a new function: the old one goes, so that no call can reach it by its argument count.
  await knex.raw(`drop function if exists tollgate_lease_acquire(${OLD_ARGS})`);
  await knex.raw(ONLY_ACQUIRE_FUNCTION);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function if exists tollgate_lease_acquire(${OLD_ARGS}, int[])`);
  await knex.raw(PARTIAL_ACQUIRE_FUNCTION);
}
