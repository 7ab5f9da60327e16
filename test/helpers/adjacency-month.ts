import { mulberry32 } from '../../src/analytics/random.js';
import { parseMonth } from '../../src/adjacency/period.js';
import { writeBatch } from '../../src/db/ledger.js';
import type { Db } from '../../src/db/knex.js';
import { toMoney } from '../../src/metering/money.js';
import type { UsageEvent } from '../../src/metering/types.js';

/**
 * Synthetic months of usage for the adjacency feature, over the demo catalog (seeds/catalog.json), written
 * through the metering writer (writeBatch) so that the hourly rollups and tool_usage_daily hold them as they
 * would after real traffic.
 *
 * - The shock month: marketing's trade-promo-automation spikes on four irregular days (two days each);
 *   supply chain's demand-forecasting spikes three days after each; both call `inventory_lookup`.
 * - Every other use case (and both of those outside their spikes) spends on a shared weekday rhythm (weekends
 *   at 40%) with seeded noise, calling tools of its own; sessions never leave their use case.
 * - The control month: the same use cases, random spend, no spikes and no shared tool.
 * - The coupled month: the shock pair without its spikes (so its spend does not lead or lag), calling only
 *   the shared tool, and in the same sessions every day: an alert whose lead-lag did not count.
 *
 * Spend is kept below 80% of the seeded budgets for every use case but the two spiking ones, so that only
 * the shock pair spends heavily. Reusable by any test (the council page's included): pass a period and a
 * prefix for request ids to write several months into one database.
 */

export const SHOCK = {
  leader: { useCase: 'trade-promo-automation', bu: 'marketing' },
  follower: { useCase: 'demand-forecasting', bu: 'supply-chain' },
  lagDays: 3,
  tool: 'inventory_lookup',
  /** Day-of-month offsets (0 = the 1st) on which the leader's two-day spikes start. */
  spikeStarts: [2, 9, 17, 22],
} as const;

export const MONTH_USE_CASES = [
  { id: 'trade-promo-automation', bu: 'marketing', agent: 'promo-planner', base: 30, tools: ['promo_calendar'] },
  { id: 'digital-marketing', bu: 'marketing', agent: 'campaign-writer', base: 15, tools: ['ad_platform'] },
  { id: 'experience-management', bu: 'marketing', agent: 'cx-agent', base: 7.5, tools: ['survey_reader'] },
  { id: 'demand-forecasting', bu: 'supply-chain', agent: 'demand-forecaster', base: 25, tools: ['sales_history'] },
  { id: 'inventory-management', bu: 'supply-chain', agent: 'inventory-optimizer', base: 12.5, tools: ['warehouse_api'] },
  { id: 'underwriting-assist', bu: 'insurance', agent: 'quote-assistant', base: 10, tools: ['rating_engine'] },
] as const;

export type MonthOptions = {
  /** YYYY-MM; default 2026-06. */
  period?: string;
  seed?: number;
  /** Prefix of request and session ids (unique per month written into one database). */
  prefix?: string;
};

const SPIKE_FACTOR = 5;
const CALLS_PER_DAY = 8;

/** The shock month's usage events. */
export function shockMonthEvents(opts: MonthOptions = {}): UsageEvent[] {
  const lead = SHOCK.spikeStarts as readonly number[];
  const spikes: Record<string, readonly number[]> = {
    [SHOCK.leader.useCase]: lead,
    [SHOCK.follower.useCase]: lead.map((s) => s + SHOCK.lagDays),
  };
  const shared: Record<string, string[]> = { [SHOCK.leader.useCase]: [SHOCK.tool], [SHOCK.follower.useCase]: [SHOCK.tool] };
  return monthEvents({ ...opts, prefix: opts.prefix ?? 'shock', seed: opts.seed ?? 1 }, spikes, shared);
}

/** A control month: unrelated use cases with random spend, no shared tools, no spikes. */
export function controlMonthEvents(opts: MonthOptions = {}): UsageEvent[] {
  return monthEvents({ ...opts, prefix: opts.prefix ?? 'control', seed: opts.seed ?? 101 }, {}, {});
}

/** The coupled month: the shock pair shares every tool and session, but its spend moves independently. */
export function coupledMonthEvents(opts: MonthOptions = {}): UsageEvent[] {
  const only = [SHOCK.tool];
  const shared: Record<string, string[]> = { [SHOCK.leader.useCase]: only, [SHOCK.follower.useCase]: only };
  const session = (useCase: string) => (useCase === SHOCK.follower.useCase ? SHOCK.leader.useCase : useCase);
  return monthEvents({ ...opts, prefix: opts.prefix ?? 'coupled', seed: opts.seed ?? 7 }, {}, shared, { replaceTools: true, session });
}

export async function writeCoupledMonth(db: Db, opts: MonthOptions = {}): Promise<UsageEvent[]> {
  const events = coupledMonthEvents(opts);
  await writeBatch(db, events);
  return events;
}

export async function writeShockMonth(db: Db, opts: MonthOptions = {}): Promise<UsageEvent[]> {
  const events = shockMonthEvents(opts);
  await writeBatch(db, events);
  return events;
}

export async function writeControlMonth(db: Db, opts: MonthOptions = {}): Promise<UsageEvent[]> {
  const events = controlMonthEvents(opts);
  await writeBatch(db, events);
  return events;
}

/** replaceTools: the shared tools instead of the use case's own; session: whose daily session a use case joins. */
type Mixing = { replaceTools?: boolean; session?: (useCase: string) => string };

function monthEvents(opts: MonthOptions & { prefix: string; seed: number }, spikes: Record<string, readonly number[]>, shared: Record<string, string[]>, mix: Mixing = {}): UsageEvent[] {
  const month = parseMonth(opts.period ?? '2026-06');
  const days = Math.round((month.to.getTime() - month.from.getTime()) / 86_400_000);
  const rng = mulberry32(opts.seed);
  const events: UsageEvent[] = [];
  for (const u of MONTH_USE_CASES) {
    for (let t = 0; t < days; t++) {
      const day = new Date(month.from.getTime() + t * 86_400_000);
      const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
      const spike = (spikes[u.id] ?? []).some((s) => t === s || t === s + 1) ? SPIKE_FACTOR * u.base : 0;
      const cost = u.base * (weekend ? 0.4 : 1) * (0.8 + 0.4 * rng()) + spike;
      const tools = mix.replaceTools && shared[u.id] ? shared[u.id]! : [...u.tools, ...(shared[u.id] ?? [])];
      const session = `${opts.prefix}-${mix.session?.(u.id) ?? u.id}-d${t}`;
      events.push(...dayCalls({ prefix: opts.prefix, useCase: u, day, t, cost, tools, rng, session }));
    }
  }
  return events;
}

type DayInput = {
  prefix: string; useCase: (typeof MONTH_USE_CASES)[number]; day: Date; t: number; cost: number; tools: string[]; rng: () => number; session: string;
};

/** A day's spend split over a few calls between 08:00 and 18:00 UTC, in one session. */
function dayCalls(d: DayInput): UsageEvent[] {
  const shares = Array.from({ length: CALLS_PER_DAY }, () => 0.5 + d.rng());
  const total = shares.reduce((a, b) => a + b, 0);
  const { session } = d;
  const call = `${d.prefix}-${d.useCase.id}-d${d.t}`;
  return shares.map((share, k) => {
    const ts = new Date(d.day.getTime() + (8 * 3600 + Math.floor(d.rng() * 10 * 3600)) * 1000).toISOString();
    // About two calls in three declare tools; the rest are plain completions.
    const tools = d.rng() < 0.67 ? [...d.tools].sort() : undefined;
    return {
      kind: 'usage', request_id: `${call}-${k}`, ts, bu_id: d.useCase.bu, use_case_id: d.useCase.id, agent_id: d.useCase.agent,
      session_id: session, parent_request_id: k === 0 ? null : `${call}-0`, provider: 'anthropic', endpoint: '/v1/messages',
      model_requested: 'claude-haiku-4-5', model_served: 'claude-haiku-4-5',
      input_tokens: 800 + Math.floor(d.rng() * 4000), cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 100 + Math.floor(d.rng() * 900),
      cost: toMoney((d.cost * share / total).toFixed(12)), currency: 'USD', price_id: null, status: 200, partial: false, latency_ms: 400,
      decision_code: 'ok', policy_revision: 'test', budget_tier: 'ok', ...(tools ? { tools } : {}),
    };
  });
}
