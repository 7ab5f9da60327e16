import { expect } from 'vitest';
import type { NormalizedUsage } from '../../src/providers/types.js';
import type { Gateway, Tags } from './gateway.js';
import { upsertBudget } from '../../src/db/budgets.js';
import { writeBatch } from '../../src/db/ledger.js';
import { usageEvent } from '../integration/fixtures/events.js';

/** The one ledger row of a call, once everything metered is in Postgres. */
export async function ledgerRowOf(gw: Gateway, requestId: string | null | undefined): Promise<Record<string, unknown>> {
  expect(requestId).toBeTruthy();
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId!);
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

/** A ledger row's four token kinds. */
export const tokensOf = (row: Record<string, unknown>): NormalizedUsage => ({
  input_tokens: Number(row.input_tokens), cached_input_tokens: Number(row.cached_input_tokens),
  cache_write_tokens: Number(row.cache_write_tokens), output_tokens: Number(row.output_tokens),
});

/** The four token kinds summed over usages (a ledger's rows, a fake's tally). */
export const usageTotal = (list: NormalizedUsage[]): NormalizedUsage => list.reduce((a, u) => ({
  input_tokens: a.input_tokens + u.input_tokens, cached_input_tokens: a.cached_input_tokens + u.cached_input_tokens,
  cache_write_tokens: a.cache_write_tokens + u.cache_write_tokens, output_tokens: a.output_tokens + u.output_tokens,
}), { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });

/**
 * A new use case of the agent the tags name, with a token budget of `limit` and `spent` of it already in the
 * ledger (nothing in flight): its tags, on a session of its own.
 */
export async function useCaseSpentTo(gw: Gateway, base: Tags, o: { name: string; useCaseClass: string; limit: number; spent: number }): Promise<Tags> {
  const db = gw.app.tollgate.db;
  await db('use_cases').insert({ id: o.name, bu_id: base.bu, name: o.name, class: o.useCaseClass, owner_name: 'Test owner', owner_email: 'owner@example.com' });
  await db('agent_use_cases').insert({ agent_id: base.agent_id, use_case_id: o.name });
  await gw.app.tollgate.catalog.refresh();
  await upsertBudget(db, { scope: 'use_case', scopeId: o.name, limit: String(o.limit), unit: 'tokens', period: 'month' });
  await writeBatch(db, [usageEvent(primed++, {
    request_id: `prime-${o.name}`, ts: new Date().toISOString(), bu_id: base.bu, use_case_id: o.name, agent_id: base.agent_id,
    input_tokens: o.spent, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0, cost: '0',
  }, o.name)]);
  return { ...base, use_case: o.name, session_id: `${o.name}-session` };
}
let primed = 0;
