import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { budgetApplies, upsertBudget } from '../../src/db/budgets.js';
import type { Db } from '../../src/db/knex.js';
import { writeBatch } from '../../src/db/ledger.js';
import type { UsageEvent } from '../../src/metering/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { usageEvent } from './fixtures/events.js';

/**
 * The writer sums its rows once per hour and rollup key, and once per session and UTC day for the budgets
 * (src/db/ledger.ts, src/db/budgets.ts), then adds those sums up further. Each figure it keeps must equal, group
 * by group, what the ledger's own rows give: across an hour, a day, a week (Monday 2025-03-31), a month and a
 * quarter boundary (2025-04-01), budgets of each period and scope, sessions, tools and replays.
 */

let t: TestDb;
beforeEach(async () => {
  t = await createTestDb();
  await upsertBudget(t.db, { scope: 'use_case', scopeId: 'trade-promo', limit: '100', unit: 'usd', period: 'week' });
  await upsertBudget(t.db, { scope: 'bu', scopeId: 'marketing', limit: '100000000', unit: 'tokens', period: 'quarter' });
  await upsertBudget(t.db, { scope: 'agent', scopeId: 'forecast-agent', limit: '100', unit: 'usd', period: 'day' });
  await upsertBudget(t.db, { scope: 'session', scopeId: '*', limit: '10', unit: 'usd', period: 'month' });
});
afterEach(async () => t?.drop());

const START = Date.parse('2025-03-30T21:10:00Z');
const TOOL_LISTS = [['inventory_lookup'], ['inventory_lookup', 'web_search'], ['crm_search', 'web_search'], undefined];

/** 90 calls, 48.5 minutes apart from Sunday evening to Wednesday night, of two use cases, with tools, errors and partial answers. */
function traffic(): UsageEvent[] {
  return Array.from({ length: 90 }, (_, i) => {
    const forecast = i % 3 === 0;
    return usageEvent(i, {
      ts: new Date(START + i * 48.5 * 60_000).toISOString(),
      ...(forecast ? { bu_id: 'supply-chain', use_case_id: 'demand-forecast', agent_id: 'forecast-agent', provider: 'openai', model_served: 'gpt-4o' } : {}),
      session_id: `s-${i % 11}`,
      status: i % 13 === 0 ? 500 : 200,
      partial: i % 17 === 0,
      tools: TOOL_LISTS[i % TOOL_LISTS.length],
    }, 'sums');
  });
}

const rows = async (db: Db, sql: string) => ((await db.raw(sql)) as { rows: Record<string, unknown>[] }).rows
  .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : String(v)])));

const HOUR = `date_trunc('hour', ts at time zone 'UTC') at time zone 'UTC'`;
const KEYS = 'bu_id, use_case_id, agent_id, provider, model_served, accounting_period';
const MEASURES = ['calls', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'cost', 'partial_calls', 'error_calls'];
const FROM_LEDGER = `count(*)::int8 as calls, sum(input_tokens)::int8 as input_tokens, sum(cached_input_tokens)::int8 as cached_input_tokens,
  sum(cache_write_tokens)::int8 as cache_write_tokens, sum(output_tokens)::int8 as output_tokens, sum(cost)::numeric(38, 12) as cost,
  (count(*) filter (where partial))::int8 as partial_calls, (count(*) filter (where status >= 400))::int8 as error_calls`;
const ROLLUP = MEASURES.map((m) => (m === 'cost' ? 'cost::numeric(38, 12) as cost' : `${m}::int8 as ${m}`)).join(', ');

async function expectSumsMatchLedger(db: Db): Promise<void> {
  expect(await rows(db, `select hour, ${KEYS}, ${ROLLUP} from usage_hourly order by 1, 2, 3, 4, 5, 6, 7`))
    .toEqual(await rows(db, `select ${HOUR} as hour, ${KEYS}, ${FROM_LEDGER} from usage_events group by 1, 2, 3, 4, 5, 6, 7 order by 1, 2, 3, 4, 5, 6, 7`));
  expect(await rows(db, `select ${KEYS}, ${ROLLUP} from usage_monthly order by 1, 2, 3, 4, 5, 6`))
    .toEqual(await rows(db, `select ${KEYS}, ${FROM_LEDGER} from usage_events group by 1, 2, 3, 4, 5, 6 order by 1, 2, 3, 4, 5, 6`));
  expect(await rows(db, 'select use_case_id, period_start, cost::numeric(38, 12) as cost, tokens::int8 as tokens, calls::int8 as calls from use_case_spend order by 1, 2'))
    .toEqual(await rows(db, `select use_case_id, date_trunc('month', ts at time zone 'UTC') at time zone 'UTC' as period_start, sum(cost)::numeric(38, 12) as cost,
      sum(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens)::int8 as tokens, count(*)::int8 as calls from usage_events group by 1, 2 order by 1, 2`));
  expect(await rows(db, 'select day::text as day, use_case_id, tool, bu_id, calls::int8 as calls from tool_usage_daily order by 1, 2, 3, 4'))
    .toEqual(await rows(db, `select (ts at time zone 'UTC')::date::text as day, use_case_id, t.tool, bu_id, count(*)::int8 as calls
      from usage_events cross join lateral unnest(tools) as t(tool) group by 1, 2, 3, 4 order by 1, 2, 3, 4`));
  // The budget counters against the definition, row by row: every applicable budget, its period of each row's ts.
  expect(await rows(db, 'select budget_id, period_start, key, spent::numeric(38, 12) as spent, calls::int8 as calls from budget_counters order by 1, 2, 3'))
    .toEqual(await rows(db, `select b.id as budget_id, date_trunc(b.period, ev.ts at time zone 'UTC') at time zone 'UTC' as period_start,
      case when b.scope = 'session' then ev.session_id else '' end as key,
      sum(case when b.unit = 'usd' then ev.cost else ev.input_tokens + ev.cached_input_tokens + ev.cache_write_tokens + ev.output_tokens end)::numeric(38, 12) as spent,
      count(*)::int8 as calls
      from usage_events ev join budgets b on ${budgetApplies('b.', { bu: 'ev.bu_id', useCase: 'ev.use_case_id', agent: 'ev.agent_id' })}
      group by 1, 2, 3 order by 1, 2, 3`));
}

describe("the writer's sums", () => {
  it('equal the ledger group by group, across hours, days, a week, a month and a quarter, in one batch or several, replays included', async () => {
    const events = traffic();
    expect((await writeBatch(t.db, events.slice(0, 40))).usageInserted).toBe(40);
    await expectSumsMatchLedger(t.db);
    expect((await writeBatch(t.db, [...events.slice(30, 90), ...events.slice(0, 5)])).usageInserted).toBe(50);
    await expectSumsMatchLedger(t.db);
    // Enough groups that a lost or doubled one shows: counters of four budget periods, both months, both quarters.
    const counters = await rows(t.db, 'select count(distinct budget_id) as budgets, count(distinct period_start) as periods from budget_counters');
    expect(counters).toEqual([{ budgets: '4', periods: '7' }]);
  });
});
