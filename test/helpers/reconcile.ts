import { loadConfig, type Config } from '../../src/config.js';
import type { Db } from '../../src/db/knex.js';
import { writeBatch } from '../../src/db/ledger.js';
import { startFakeReports, type FakePrice, type FakeReportCall, type FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { fakeCost } from '../../src/demo/fake-upstream/reports.js';
import { usageEvent } from '../integration/fixtures/events.js';

/**
 * The shadow-spend scenario the reconciliation tests share: an organization whose provider reports show
 * tollgate's own key (what the ledger metered) beside other keys (spend that bypassed the gateway).
 */

export const OPENAI_ADMIN = 'sk-admin-openai-test';
export const ANTHROPIC_ADMIN = 'sk-ant-admin01-test';
export const OPENAI_TOLLGATE_KEY = 'key_tollgate';
export const ANTHROPIC_TOLLGATE_KEY = 'apikey_01Tollgate';

/** The demo catalog's list prices, as the providers bill them. */
export const PRICES: Record<string, FakePrice> = {
  'gpt-4.1-2025-04-14': { input: '2', cachedInput: '0.50', cacheWrite: '0', output: '8' },
  'gpt-4o-mini-2024-07-18': { input: '0.15', cachedInput: '0.075', cacheWrite: '0', output: '0.60' },
  'claude-sonnet-4-5-20250929': { input: '3', cachedInput: '0.30', cacheWrite: '3.75', cacheWrite1h: '6', output: '15' },
  'claude-haiku-4-5-20251001': { input: '1', cachedInput: '0.10', cacheWrite: '1.25', cacheWrite1h: '2', output: '5' },
};

const call = (c: Partial<FakeReportCall> & Pick<FakeReportCall, 'provider' | 'day' | 'apiKeyId' | 'model'>): FakeReportCall =>
  ({ scopeId: null, input: 0, cachedInput: 0, cacheWrite: 0, output: 0, requests: 1, ...c });

/**
 * June 2–3, 2026. On the 2nd tollgate's keys spent what the ledger holds and other keys spent more (bypass);
 * on the 3rd only tollgate's keys spent, exactly what the ledger holds (a day that matches).
 */
export const TOLLGATE_CALLS: FakeReportCall[] = [
  call({ provider: 'openai', day: '2026-06-02', apiKeyId: OPENAI_TOLLGATE_KEY, scopeId: 'proj_gateway', model: 'gpt-4.1-2025-04-14', input: 120_000, cachedInput: 30_000, output: 24_000, requests: 40 }),
  call({ provider: 'openai', day: '2026-06-03', apiKeyId: OPENAI_TOLLGATE_KEY, scopeId: 'proj_gateway', model: 'gpt-4.1-2025-04-14', input: 80_000, output: 9_000, requests: 20 }),
  call({ provider: 'anthropic', day: '2026-06-02', apiKeyId: ANTHROPIC_TOLLGATE_KEY, scopeId: 'wrkspc_agents', model: 'claude-sonnet-4-5-20250929', input: 50_000, cachedInput: 200_000, cacheWrite: 10_000, output: 7_000 }),
  call({ provider: 'anthropic', day: '2026-06-03', apiKeyId: ANTHROPIC_TOLLGATE_KEY, scopeId: 'wrkspc_agents', model: 'claude-haiku-4-5-20251001', input: 40_000, output: 3_000 }),
];

export const BYPASS_CALLS: FakeReportCall[] = [
  call({ provider: 'openai', day: '2026-06-02', apiKeyId: 'key_laptop', scopeId: 'proj_data', model: 'gpt-4.1-2025-04-14', input: 333_333, cachedInput: 1_111, output: 77_777, requests: 9 }),
  call({ provider: 'openai', day: '2026-06-02', apiKeyId: 'key_laptop', scopeId: 'proj_data', model: 'gpt-4o-mini-2024-07-18', input: 1_000_001, output: 3_333, requests: 5 }),
  // Same workspace and model as tollgate's key: the cost report's line is split between the two keys.
  call({ provider: 'anthropic', day: '2026-06-02', apiKeyId: 'apikey_01Laptop', scopeId: 'wrkspc_agents', model: 'claude-sonnet-4-5-20250929', input: 12_345, cachedInput: 6_789, cacheWrite: 1_000, cacheWrite1h: 2_000, output: 4_321 }),
];

const CATALOG_MODEL: Record<string, string> = {
  'gpt-4.1-2025-04-14': 'gpt-4.1', 'gpt-4o-mini-2024-07-18': 'gpt-4o-mini', 'claude-sonnet-4-5-20250929': 'claude-sonnet-4-5', 'claude-haiku-4-5-20251001': 'claude-haiku-4-5',
};

export const costOf = (calls: readonly FakeReportCall[]) => fakeCost(calls, PRICES);

/** What tollgate metered for its keys' calls: one ledger row each, priced as the provider prices them. */
export async function meterTollgateCalls(db: Db, calls: readonly FakeReportCall[] = TOLLGATE_CALLS): Promise<void> {
  await writeBatch(db, calls.map((c, i) => usageEvent(i, {
    ts: `${c.day}T10:00:00.000Z`, provider: c.provider, model_requested: CATALOG_MODEL[c.model]!, model_served: CATALOG_MODEL[c.model]!,
    input_tokens: c.input, cached_input_tokens: c.cachedInput, cache_write_tokens: c.cacheWrite + (c.cacheWrite1h ?? 0), output_tokens: c.output,
    cost: costOf([c]), bu_id: 'marketing', use_case_id: 'trade-promo-automation', agent_id: 'promo-planner',
  }, `shadow-${c.provider}-${c.day}`)));
}

export async function startReports(): Promise<FakeReports> {
  return startFakeReports({ openaiAdminKey: OPENAI_ADMIN, anthropicAdminKey: ANTHROPIC_ADMIN, prices: PRICES });
}

/** Settings as the environment would give them, pointed at the fake. */
export function reconcileEnv(reports: FakeReports, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OPENAI_ADMIN_KEY: OPENAI_ADMIN, ANTHROPIC_ADMIN_KEY: ANTHROPIC_ADMIN,
    TOLLGATE_OPENAI_ADMIN_BASE_URL: reports.url, TOLLGATE_ANTHROPIC_ADMIN_BASE_URL: reports.url,
    TOLLGATE_OPENAI_REPORT_KEY_ID: OPENAI_TOLLGATE_KEY, TOLLGATE_ANTHROPIC_REPORT_KEY_ID: ANTHROPIC_TOLLGATE_KEY,
    ...extra,
  };
}

export function reconcileSettings(reports: FakeReports, extra: Record<string, string> = {}): Config['reconcile'] {
  return loadConfig(reconcileEnv(reports, extra), {}).reconcile;
}
