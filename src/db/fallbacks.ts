import type { Knex } from 'knex';
import { budgetCounterUndoCtes } from './budgets.js';
import type { Db } from './knex.js';
import { monthlyRollupSql, toolRollupSql, usageRollupSql } from './rollups.js';

/**
 * The ledger is append-only, with one exception: a dead gateway's fallback row (flag `fallback`: the prompt
 * estimate, status 0) is provisional. When the call's real usage event arrives anyway (its replica was alive
 * after all: a lease that could not be renewed, a journal replayed late), the fallback row is taken out, and
 * with it everything it added to use_case_spend, the budget counters, the hourly and monthly rollups and the
 * tool counts; the writer then inserts the real event as any other, in the same transaction, so the figures
 * move by the difference exactly once. A fallback billed in a month already closed stays (a closed month's
 * figures never change).
 */
const UNDO_FALLBACKS_SQL = `
with old as (
  delete from usage_events u
  where u.request_id = any(?::text[]) and u.flags @> '{fallback}'
    and not exists (select 1 from period_closes c where c.period = u.accounting_period)
  returning u.request_id, u.ts, u.bu_id, u.use_case_id, u.agent_id, u.session_id, u.provider, u.model_served, u.accounting_period,
    u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens, u.cost, u.partial, u.status, u.tools,
    u.input_tokens + u.cached_input_tokens + u.cache_write_tokens + u.output_tokens as tokens
), spend as (
  update use_case_spend s set cost = s.cost - o.cost, tokens = s.tokens - o.tokens, calls = s.calls - o.calls
  from (
    select use_case_id, date_trunc('month', ts at time zone 'UTC') at time zone 'UTC' as period_start,
      sum(cost) as cost, sum(tokens) as tokens, count(*) as calls
    from old group by 1, 2
  ) o
  where s.use_case_id = o.use_case_id and s.period = 'month' and s.period_start = o.period_start
), ${budgetCounterUndoCtes('old as ev')}, rollup as (${usageRollupSql('old', '-')}
), monthly as (${monthlyRollupSql('old', false, '-')}
), tool_days as (${toolRollupSql('old', '-')}
)
select coalesce(array_agg(request_id), '{}') as replaced from old`;

/** Takes the fallback rows of these calls out of the ledger and its figures; returns the calls whose row went. */
export async function undoFallbacks(trx: Db | Knex.Transaction, requestIds: readonly string[]): Promise<string[]> {
  if (requestIds.length === 0) return [];
  const { rows } = (await trx.raw(UNDO_FALLBACKS_SQL, [requestIds as unknown as Knex.RawBinding])) as { rows: { replaced: string[] | string }[] };
  const replaced = rows[0]?.replaced ?? [];
  return Array.isArray(replaced) ? replaced : parseTextArray(replaced);
}

// A driver that returns text[] as its literal ({a,b}); request ids are UUIDs, never quoted.
function parseTextArray(literal: string): string[] {
  const inner = literal.slice(1, -1);
  return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
}
