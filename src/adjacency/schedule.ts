import type { Knex } from 'knex';
import { runAdjacency, type RunSummary } from './runner.js';
import type { AnalysisOptions } from './index.js';

/**
 * The analytics role's timer: every `intervalMs` it analyses the current month. Replicas race for the
 * advisory lock and the losers skip that round (runAdjacency with lock 'try'), so one runs at a time.
 * Started and stopped like the notifier: stop() waits for a round in progress.
 */

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void };

export type AdjacencySchedule = { start(): void; stop(): Promise<void>; runOnce(): Promise<RunSummary | null> };

export function createAdjacencySchedule(o: { db: Knex; log: Log; intervalMs: number; options?: AnalysisOptions; now?: () => Date }): AdjacencySchedule {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  async function runOnce(): Promise<RunSummary | null> {
    const summary = await runAdjacency(o.db, { triggeredBy: 'schedule', options: o.options, lock: 'try', now: o.now });
    if (summary) o.log.info({ run: summary.run.id, period: summary.run.period, alerts: summary.alerts }, 'adjacency run done');
    return summary;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .catch((err: unknown) => o.log.warn({ err }, 'adjacency run failed; trying again on the next round'))
        .finally(schedule);
    }, o.intervalMs);
    timer.unref();
  }

  return {
    start() {
      if (!stopped || o.intervalMs <= 0) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}

/** The analysis options the config sets (alert thresholds; the rest keep their DEFAULTS). */
export function analysisOptionsFrom(adjacency: { alerts: { minWeight: number; spendPercentile: number; budgetShare: number } }): AnalysisOptions {
  return { alerts: { ...adjacency.alerts } };
}
