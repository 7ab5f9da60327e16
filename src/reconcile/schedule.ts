import type { Db } from '../db/knex.js';
import { rounds } from '../ops/rounds.js';
import { runReconcile, type ReconcileSettings, type RunSummary } from './runner.js';
import { REPORT_PROVIDERS, type ReportProvider } from './types.js';

/**
 * The analytics role's timer: every `intervalMs` it pulls, for each provider with an admin key, the last
 * `lookbackDays` complete UTC days (a provider's figures for a day settle after it ends, so recent days are
 * pulled again). A provider in progress on another replica is skipped that round (one run at a time).
 */

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void };

export type ReconcileSchedule = { start(): void; stop(): Promise<void>; runOnce(): Promise<Partial<Record<ReportProvider, RunSummary | null>>> };

export function createReconcileSchedule(o: { db: Db; log: Log; settings: ReconcileSettings; intervalMs: number; now?: () => Date }): ReconcileSchedule {
  async function runOnce() {
    const today = (o.now?.() ?? new Date()).toISOString().slice(0, 10);
    const from = dayBefore(today, o.settings.lookbackDays);
    const out: Partial<Record<ReportProvider, RunSummary | null>> = {};
    for (const provider of REPORT_PROVIDERS.filter((p) => o.settings.providers[p].adminKey)) {
      try {
        out[provider] = await runReconcile(o.db, o.settings, { provider, from, to: today, triggeredBy: 'schedule', lock: 'try' });
        const s = out[provider];
        if (s) o.log.info({ provider, run: s.run.id, days: s.days, rows: s.rows, notices: s.notices }, 'reconciliation done');
      } catch (err) {
        o.log.warn({ err, provider }, 'reconciliation failed; trying again on the next round');
      }
    }
    return out;
  }
  const loop = rounds({ intervalMs: o.intervalMs, run: runOnce, onError: (err) => o.log.warn({ err }, 'reconciliation round failed') });
  return { start: loop.start, stop: loop.stop, runOnce };
}

function dayBefore(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);
}
