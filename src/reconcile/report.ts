import { monthRange } from '../budgets/period.js';
import type { Db } from '../db/knex.js';
import { listShadowNotices, readCoveredDays, readLedgerDays, readReportRows, type NoticeView } from '../db/reconcile.js';
import { shadowSpend, type ShadowDimension, type ShadowReport } from './compare.js';
import { REPORT_PROVIDERS, type ReportProvider } from './types.js';
import type { ReconcileSettings } from './runner.js';

/** Shadow spend as GraphQL, the CLI and the council page read it: stored report rows beside the ledger's rollup. */

export type ShadowSpendSpec = { from: string; to: string; provider?: ReportProvider; groupBy: readonly ShadowDimension[] };
export type ShadowSpendView = ShadowReport & { from: string; to: string; currency: 'USD'; notices: NoticeView[] };

export class ShadowInputError extends Error {}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `period` (YYYY-MM) or from/to on whole UTC days; the provider, if named, must be one with reports. */
export function resolveShadowSpec(args: { period?: string | null; from?: Date | string | null; to?: Date | string | null; provider?: string | null; groupBy: readonly ShadowDimension[] }): ShadowSpendSpec {
  if (args.provider != null && !(REPORT_PROVIDERS as readonly string[]).includes(args.provider)) throw new ShadowInputError(`provider must be one of ${REPORT_PROVIDERS.join(', ')}; got "${args.provider}"`);
  const provider = (args.provider ?? undefined) as ReportProvider | undefined;
  if (args.period) {
    if (args.from || args.to) throw new ShadowInputError('give either period or from/to, not both');
    let range: { from: Date; to: Date };
    try {
      range = monthRange(args.period);
    } catch (err) {
      throw new ShadowInputError((err as Error).message);
    }
    return { from: day(range.from), to: day(range.to), provider, groupBy: args.groupBy };
  }
  if (!args.from || !args.to) throw new ShadowInputError('give period (YYYY-MM) or both from and to');
  const [from, to] = [wholeDay(args.from), wholeDay(args.to)];
  if (to <= from) throw new ShadowInputError('to must be after from');
  return { from, to, provider, groupBy: args.groupBy };
}

export async function readShadowSpend(db: Db, settings: ReconcileSettings, spec: ShadowSpendSpec): Promise<ShadowSpendView> {
  const range = { provider: spec.provider, from: spec.from, to: spec.to };
  const [report, ledger, covered, notices] = await Promise.all([readReportRows(db, range), readLedgerDays(db, range), readCoveredDays(db, range), listShadowNotices(db, range)]);
  const tollgateKeys = Object.fromEntries(REPORT_PROVIDERS.map((p) => [p, settings.providers[p].tollgateKeyId]));
  return { ...shadowSpend({ report, ledger, covered, tollgateKeys, groupBy: spec.groupBy }), from: spec.from, to: spec.to, currency: 'USD', notices };
}

function wholeDay(value: Date | string): string {
  const d = value instanceof Date ? value : DAY.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(d.getTime()) || d.getTime() % 86_400_000 !== 0) throw new ShadowInputError(`from and to must be whole UTC days; got ${String(value)}`);
  return day(d);
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
