import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { Db } from '../db/knex.js';
import {
  catalogModelAliases, catalogModelIds, claimRun, failRun, finishRun, insertShadowNotices, insertShadowOutbox, readCoveredDays, readLedgerDays, readReportRows,
  replaceReportDays, type RunRow, type RunSource,
} from '../db/reconcile.js';
import type { ReportAdapter } from './adapter.js';
import { anthropicReports } from './anthropic.js';
import { passes, shadowSpend } from './compare.js';
import { fetchReport, type FetchOptions } from './fetch.js';
import { mergeReport } from './merge.js';
import { catalogModelMapper } from './models.js';
import { openaiReports } from './openai.js';
import { buildShadowPayload } from './payload.js';
import { ReportError, type ReportPage, type ReportProvider } from './types.js';

/**
 * One reconciliation: claim the provider (one run at a time, any replica), pull every page of both reports,
 * then in ONE transaction replace the range's days with the merged rows, record the days that passed the
 * threshold (once per provider × day) with finance's outbox row, and close the run. A page that fails is
 * retried by the fetcher; a run that still fails writes nothing but its failure.
 */

export const ADAPTERS: Readonly<Record<ReportProvider, ReportAdapter>> = { openai: openaiReports, anthropic: anthropicReports };
const LEASE_MS = 30 * 60_000;
const CLAIM_POLL_MS = 500;
const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

export type ReconcileSettings = Config['reconcile'];
export type RunSummary = { run: RunRow; days: number; rows: number; pages: number; notices: number };

export type RunRequest = {
  provider: ReportProvider;
  /** Days, YYYY-MM-DD; `to` exclusive. */
  from: string;
  to: string;
  triggeredBy: string;
  /** 'wait' (default) waits for a run of the provider in progress; 'try' gives up (the schedule's replicas). */
  lock?: 'wait' | 'try';
  fetch?: Partial<Omit<FetchOptions, 'baseUrl' | 'adminKey'>>;
};

/** Pulls the provider's reports for [from, to); null when `lock: 'try'` found a run in progress. */
export async function runReconcile(db: Db, settings: ReconcileSettings, req: RunRequest): Promise<RunSummary | null> {
  const adapter = ADAPTERS[req.provider];
  const provider = settings.providers[req.provider];
  if (!DAY.test(req.from) || !DAY.test(req.to) || req.from >= req.to) throw new ReportError(`give days as YYYY-MM-DD with from before to; got ${req.from} … ${req.to}`);
  if (!provider.adminKey) throw new ReportError(`no admin key for ${req.provider}: set ${req.provider === 'openai' ? 'OPENAI_ADMIN_KEY' : 'ANTHROPIC_ADMIN_KEY'}`);
  const run = await claim(db, { provider: req.provider, fromDay: req.from, toDay: req.to, source: 'api', triggeredBy: req.triggeredBy }, req.lock ?? 'wait');
  if (!run) return null;
  return recorded(db, run, async () => {
    const range = { from: new Date(`${req.from}T00:00:00Z`), to: new Date(`${req.to}T00:00:00Z`) };
    const options = { ...req.fetch, baseUrl: provider.baseUrl, adminKey: provider.adminKey! };
    const usage = await fetchReport(adapter, 'usage', range, options);
    const cost = await fetchReport(adapter, 'cost', range, options);
    return store(db, settings, run, adapter, [...usage, ...cost], daysOf(req.from, req.to));
  });
}

/** Stores pages read from a file (import.ts): the days their buckets cover are replaced, like a run's. */
export async function storePages(db: Db, settings: ReconcileSettings, req: { provider: ReportProvider; pages: ReportPage[]; triggeredBy: string }): Promise<RunSummary> {
  const days = [...new Set(req.pages.flatMap((p) => p.days))].sort();
  if (days.length === 0) throw new ReportError('the file has no report buckets');
  const run = await claim(db, { provider: req.provider, fromDay: days[0]!, toDay: nextDay(days.at(-1)!), source: 'file', triggeredBy: req.triggeredBy }, 'wait');
  return recorded(db, run!, () => store(db, settings, run!, ADAPTERS[req.provider], req.pages, days));
}

async function claim(db: Db, c: { provider: ReportProvider; fromDay: string; toDay: string; source: RunSource; triggeredBy: string }, lock: 'wait' | 'try'): Promise<RunRow | null> {
  const deadline = Date.now() + LEASE_MS;
  for (;;) {
    const run = await claimRun(db, { ...c, leaseMs: LEASE_MS });
    if (run || lock === 'try') return run;
    if (Date.now() > deadline) throw new ReportError(`another reconciliation of ${c.provider} has held its claim for ${LEASE_MS / 60_000} minutes`);
    await sleep(CLAIM_POLL_MS);
  }
}

async function recorded(db: Db, run: RunRow, work: () => Promise<RunSummary>): Promise<RunSummary> {
  try {
    return await work();
  } catch (err) {
    await failRun(db, run.id, err instanceof Error ? err.message : String(err));
    throw err;
  }
}

async function store(db: Db, settings: ReconcileSettings, run: RunRow, adapter: ReportAdapter, pages: ReportPage[], days: string[]): Promise<RunSummary> {
  const [models, aliases] = [await catalogModelIds(db, adapter.provider), await catalogModelAliases(db, adapter.provider)];
  const inRange = new Set(days);
  const rows = mergeReport({
    usage: pages.flatMap((p) => p.usage), cost: pages.flatMap((p) => p.cost), costsByKey: adapter.costsByKey, catalogModel: catalogModelMapper(models, aliases),
  }).filter((r) => inRange.has(r.day));
  return db.transaction(async (trx) => {
    await replaceReportDays(trx, run, days, rows);
    const notices = await notify(trx, settings, run, days);
    await finishRun(trx, run.id, { pages: pages.length, rows: rows.length });
    return { run: { ...run, status: 'done', pages: pages.length, rows: rows.length }, days: days.length, rows: rows.length, pages: pages.length, notices };
  });
}

/** Days of the run whose |reported − metered| reaches the threshold: one notice each, ever, and finance's outbox row. */
async function notify(trx: Knex.Transaction, settings: ReconcileSettings, run: RunRow, days: string[]): Promise<number> {
  const range = { provider: run.provider, from: days[0]!, to: nextDay(days.at(-1)!) };
  // One after another: a transaction is one connection, which runs one statement at a time.
  const report = await readReportRows(trx, range);
  const ledger = await readLedgerDays(trx, range);
  const covered = await readCoveredDays(trx, range);
  const runDays = new Set(days);
  const tollgateKeys = { [run.provider]: settings.providers[run.provider].tollgateKeyId };
  const byDay = shadowSpend({ report, ledger, covered: covered.filter((c) => runDays.has(c.day)), tollgateKeys, groupBy: ['DAY'] }).rows;
  const due = byDay.filter((r) => passes(r.difference, settings.threshold));
  const inserted = await insertShadowNotices(trx, due.map((r) => ({
    provider: run.provider, day: r.key.day!, reported: r.reported, metered: r.metered, difference: r.difference, threshold: settings.threshold, run_id: run.id,
  })));
  const figures = new Map(due.map((r) => [r.key.day!, r]));
  await insertShadowOutbox(trx, inserted.map((n) => ({
    shadow_notice_id: n.id, target_url: settings.webhookUrl ?? null,
    payload: buildShadowPayload({
      noticeId: n.id, provider: run.provider, day: n.day, reported: n.reported, metered: n.metered, difference: n.difference,
      bypass: figures.get(n.day)!.bypass, meteringGap: figures.get(n.day)!.meteringGap, threshold: settings.threshold, runId: run.id,
    }),
  })));
  return inserted.length;
}

/** The days of [from, to), YYYY-MM-DD. */
export function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d < to; d = nextDay(d)) out.push(d);
  return out;
}

export function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}
