import type { Knex } from 'knex';
import { runAdjacency, type RunSummary } from './runner.js';
import type { AnalysisOptions } from './index.js';
import { rounds } from '../ops/rounds.js';

/**
 * The analytics role's timer: every `intervalMs` it analyses the current month. Replicas race for the
 * advisory lock and the losers skip that round (runAdjacency with lock 'try'), so one runs at a time.
 * Started and stopped like the notifier: stop() waits for a round in progress.
 */

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void };

export type AdjacencySchedule = { start(): void; stop(): Promise<void>; runOnce(): Promise<RunSummary | null> };

export function createAdjacencySchedule(o: { db: Knex; log: Log; intervalMs: number; options?: AnalysisOptions; now?: () => Date }): AdjacencySchedule {
  async function runOnce(): Promise<RunSummary | null> {
    const summary = await runAdjacency(o.db, { triggeredBy: 'schedule', options: o.options, lock: 'try', now: o.now });
    if (summary) o.log.info({ run: summary.run.id, period: summary.run.period, alerts: summary.alerts }, 'adjacency run done');
    return summary;
  }
  const loop = rounds({ intervalMs: o.intervalMs, run: runOnce, onError: (err) => o.log.warn({ err }, 'adjacency run failed; trying again on the next round') });
  return { start: loop.start, stop: loop.stop, runOnce };
}

/** The analysis options the config sets (alert thresholds; the rest keep their DEFAULTS). */
export function analysisOptionsFrom(adjacency: { alerts: { minWeight: number; spendPercentile: number; budgetShare: number } }): AnalysisOptions {
  return { alerts: { ...adjacency.alerts } };
}
