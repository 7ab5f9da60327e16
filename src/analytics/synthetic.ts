import { mulberry32 } from './random.js';
import type { PriceBook } from '../metering/pricing.js';
import { costOf } from '../metering/pricing.js';
import { ZERO_MONEY } from '../metering/money.js';
import type { DecisionRecord, JournalRecord, UsageEvent } from '../metering/types.js';
import { ERRORS } from '../errors.js';

/**
 * Realistic synthetic traffic over the catalog, for benchmarks and demos: pure and deterministic (one
 * seeded PRNG; the same catalog, prices and options give the same records, byte for byte).
 * - Time: `months` whole UTC months ending before `until`; working hours and weekdays are busier
 *   (a diurnal curve peaking mid-afternoon UTC, weekends at a third).
 * - Sessions: one agent on one of its use cases, a heavy-tailed number of calls (Pareto, α = 1.3, capped),
 *   seconds apart, each call after the first a tool call of an earlier one (parent_request_id).
 * - Calls: one of the agent's models (cheaper ones more often), log-normal token counts, a cached prefix on
 *   a third of follow-up calls, priced with the real price book (as the gateway would).
 * - Denials: about 2% of calls go to the decision log instead (budget cap, model or use case not allowed).
 */

export type SyntheticAgent = { id: string; bu_id: string; use_cases: string[]; models: string[] };
export type SyntheticCatalog = { agents: SyntheticAgent[]; providerOf: ReadonlyMap<string, string> };
export type SyntheticOptions = { events: number; months: number; seed: number; until: Date };

export const DEFAULTS = { months: 3, seed: 1, denialRate: 0.02, maxSessionCalls: 400, paretoAlpha: 1.3 } as const;

const DENIALS = ['budget_exhausted', 'model_not_allowed', 'use_case_not_allowed'] as const;
// Relative traffic per UTC hour: night, morning ramp, working day, evening tail.
const HOURLY = [2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 13, 14, 14, 13, 11, 8, 6, 5, 4, 3, 2];
const WEEKEND = 0.35;

/** Yields the records in batches of `batchSize` (the last one shorter); `events` counts usage and denials. */
export function* syntheticBatches(catalog: SyntheticCatalog, prices: PriceBook, opts: SyntheticOptions, batchSize = 10_000): Generator<JournalRecord[]> {
  if (catalog.agents.length === 0) throw new Error('the catalog has no agents: run `tollgate seed` first');
  const rand = mulberry32(opts.seed);
  const clock = slotSampler(opts, rand);
  let batch: JournalRecord[] = [];
  let n = 0;
  let session = 0;
  while (n < opts.events) {
    const agent = pick(catalog.agents, rand);
    const useCase = pick(agent.use_cases, rand);
    const calls = Math.min(opts.events - n, sessionLength(rand));
    const sessionId = `syn-${opts.seed}-s${session++}`;
    let at = clock();
    const ids: string[] = [];
    for (let k = 0; k < calls; k++, n++) {
      const requestId = `syn-${opts.seed}-${n}`;
      const parent = k === 0 ? null : ids[Math.floor(rand() * ids.length)]!;
      const base = { request_id: requestId, ts: new Date(at).toISOString(), bu_id: agent.bu_id, use_case_id: useCase, agent_id: agent.id, session_id: sessionId };
      const record = rand() < DEFAULTS.denialRate ? denial(base, agent, catalog, rand) : usage(base, parent, k > 0, agent, catalog, prices, rand);
      if (record.kind === 'usage') ids.push(requestId);
      batch.push(record);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
      at += 500 + Math.floor(rand() * 20_000);
    }
  }
  if (batch.length > 0) yield batch;
}

type Base = { request_id: string; ts: string; bu_id: string; use_case_id: string; agent_id: string; session_id: string };

function usage(base: Base, parent: string | null, followUp: boolean, agent: SyntheticAgent, catalog: SyntheticCatalog, prices: PriceBook, rand: () => number): UsageEvent {
  const at = new Date(base.ts);
  const requested = pickModel(agent.models, rand);
  const model = prices.priceAt(requested, at) ? requested : (agent.models.find((m) => prices.priceAt(m, at)) ?? requested);
  const provider = catalog.providerOf.get(model) ?? 'openai';
  const embedding = model.startsWith('text-embedding');
  const prompt = Math.round(logNormal(rand, embedding ? 6 : 7.2, 0.9));
  const cached = followUp && !embedding && rand() < 0.33 ? Math.floor(prompt * (0.3 + rand() * 0.6)) : 0;
  const cacheWrite = provider === 'anthropic' && !followUp && rand() < 0.2 ? Math.round(prompt * 0.5) : 0;
  const tokens = {
    input_tokens: prompt - cached,
    cached_input_tokens: cached,
    cache_write_tokens: cacheWrite,
    output_tokens: embedding ? 0 : Math.round(logNormal(rand, 5.5, 0.8)),
  };
  const partial = rand() < 0.01;
  const price = prices.priceAt(model, at);
  return {
    kind: 'usage',
    ...base,
    parent_request_id: parent,
    provider,
    endpoint: provider === 'anthropic' ? '/v1/messages' : embedding ? '/v1/embeddings' : '/v1/chat/completions',
    model_requested: requested,
    model_served: model,
    ...tokens,
    cost: price ? costOf(tokens, price) : ZERO_MONEY,
    currency: price?.currency ?? 'USD',
    price_id: price?.id ?? null,
    status: partial ? 499 : 200,
    partial,
    latency_ms: Math.round(logNormal(rand, 7, 0.6)),
    decision_code: 'ok',
    policy_revision: 'synthetic',
    budget_tier: 'normal',
  };
}

function denial(base: Base, agent: SyntheticAgent, catalog: SyntheticCatalog, rand: () => number): DecisionRecord {
  const code = pick(DENIALS, rand);
  const model = pick(agent.models, rand);
  const provider = catalog.providerOf.get(model) ?? 'openai';
  return {
    kind: 'decision',
    ...base,
    provider,
    endpoint: provider === 'anthropic' ? '/v1/messages' : '/v1/chat/completions',
    model,
    allowed: false,
    http_status: ERRORS[code].status,
    code,
    message: ERRORS[code].message,
    reasons: [{ code, message: ERRORS[code].message }],
    policy_revision: 'synthetic',
    budget_tier: code === 'budget_exhausted' ? 'hard_cap' : 'normal',
  };
}

/** A start time for a session: a day of the window (weekends lighter), an hour on the diurnal curve. */
function slotSampler(opts: SyntheticOptions, rand: () => number): () => number {
  const end = Date.UTC(opts.until.getUTCFullYear(), opts.until.getUTCMonth(), 1);
  const start = Date.UTC(opts.until.getUTCFullYear(), opts.until.getUTCMonth() - opts.months, 1);
  const days = Math.round((end - start) / 86_400_000);
  const dayWeights = Array.from({ length: days }, (_, d) => ([0, 6].includes(new Date(start + d * 86_400_000).getUTCDay()) ? WEEKEND : 1));
  const pickDay = weighted(dayWeights);
  const pickHour = weighted(HOURLY);
  return () => start + pickDay(rand) * 86_400_000 + pickHour(rand) * 3_600_000 + Math.floor(rand() * 3_600_000);
}

function sessionLength(rand: () => number): number {
  return Math.min(DEFAULTS.maxSessionCalls, Math.floor((1 - rand()) ** (-1 / DEFAULTS.paretoAlpha)));
}

// The agent's models are listed best first in the catalog; later (cheaper) ones are called more.
function pickModel(models: readonly string[], rand: () => number): string {
  return models[weighted(models.map((_, i) => i + 1))(rand)]!;
}

function weighted(weights: readonly number[]): (rand: () => number) => number {
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  return (rand) => {
    const x = rand() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

function pick<T>(items: readonly T[], rand: () => number): T {
  return items[Math.floor(rand() * items.length)]!;
}

function logNormal(rand: () => number, mu: number, sigma: number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

