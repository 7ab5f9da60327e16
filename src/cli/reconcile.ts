import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../config.js';
import { SHADOW_DIMENSIONS, type ShadowDimension } from '../reconcile/compare.js';
import { importReportFile } from '../reconcile/import.js';
import { readShadowSpend, resolveShadowSpec, type ShadowSpendView } from '../reconcile/report.js';
import { nextDay, runReconcile, type RunSummary } from '../reconcile/runner.js';
import { REPORT_PROVIDERS, type ReportProvider } from '../reconcile/types.js';
import { withDb } from './db.js';
import { defaultActor } from './extend.js';

export function reconcileCommands(reconcile: Command): void {
  reconcile.command('run')
    .description("pull a provider's usage and cost reports for whole UTC days (admin key) and store them")
    .addOption(providerOption().makeOptionMandatory())
    .requiredOption('--from <YYYY-MM-DD>', 'first day', day)
    .requiredOption('--to <YYYY-MM-DD>', 'last day (inclusive)', day)
    .action(async (opts: { provider: ReportProvider; from: string; to: string }) => {
      if (opts.to < opts.from) throw new InvalidArgumentError('--to must not be before --from');
      const summary = await withDb((db) => runReconcile(db, loadConfig().reconcile, { provider: opts.provider, from: opts.from, to: nextDay(opts.to), triggeredBy: `cli:${defaultActor()}` }));
      console.log(formatRun(summary!));
    });

  reconcile.command('import')
    .description("store a provider's report pages from a file (the report API's JSON: a page, an array of pages, or JSON lines)")
    .addOption(providerOption().makeOptionMandatory())
    .requiredOption('--file <path>', 'the file')
    .action(async (opts: { provider: ReportProvider; file: string }) => {
      const summary = await withDb((db) => importReportFile(db, loadConfig().reconcile, { provider: opts.provider, file: opts.file, triggeredBy: `cli:${defaultActor()}` }));
      console.log(formatRun(summary));
    });

  reconcile.command('report')
    .description('shadow spend: what the providers report beside what tollgate metered')
    .addOption(providerOption())
    .option('--period <YYYY-MM>', 'a month (UTC)')
    .option('--from <YYYY-MM-DD>', 'first day', day)
    .option('--to <YYYY-MM-DD>', 'last day (inclusive)', day)
    .option('--by <dimensions>', `comma-separated: ${SHADOW_DIMENSIONS.map((d) => d.toLowerCase()).join(', ')}`, dimensions, ['DAY', 'MODEL', 'KEY'] as ShadowDimension[])
    .action(async (opts: { provider?: ReportProvider; period?: string; from?: string; to?: string; by: ShadowDimension[] }) => {
      const spec = resolveShadowSpec({ ...opts, to: opts.to === undefined ? undefined : nextDay(opts.to), groupBy: opts.by });
      process.stdout.write(formatShadow(await withDb((db) => readShadowSpend(db, loadConfig().reconcile, spec)), opts.by));
    });
}

function providerOption(): Option {
  return new Option('--provider <provider>', 'the provider').choices([...REPORT_PROVIDERS]);
}

export function formatRun(s: RunSummary): string {
  const to = new Date(Date.parse(`${s.run.to_day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return `run ${s.run.id}: ${s.run.provider} ${s.run.from_day} … ${to}: ${s.pages} pages, ${s.days} days, ${s.rows} rows; `
    + `${s.notices} new notice${s.notices === 1 ? '' : 's'} to finance`;
}

const KEY_FIELD: Record<ShadowDimension, 'provider' | 'day' | 'model' | 'apiKeyId' | 'scopeId'> = { PROVIDER: 'provider', DAY: 'day', MODEL: 'model', KEY: 'apiKeyId', SCOPE: 'scopeId' };

export function formatShadow(v: ShadowSpendView, by: readonly ShadowDimension[]): string {
  if (v.coveredDays.length === 0) return `no provider reports stored for ${v.from} … ${v.to} (exclusive): run \`tollgate reconcile run\` first\n`;
  const head = [...by.map((d) => d.toLowerCase()), ...(by.includes('KEY') ? ['tollgate'] : []), 'reported', 'metered', 'difference', 'bypass', 'metering_gap'];
  const body = v.rows.map((r) => [
    ...by.map((d) => r.key[KEY_FIELD[d]] ?? '—'), ...(by.includes('KEY') ? [r.tollgateKey === null ? '?' : r.tollgateKey ? 'yes' : 'no'] : []),
    r.reported, r.metered, r.difference, r.bypass, r.meteringGap,
  ]);
  const total = [...by.map((_, i) => (i === 0 ? 'total' : '')), ...(by.includes('KEY') ? [''] : []), v.totals.reported, v.totals.metered, v.totals.difference, v.totals.bypass, v.totals.meteringGap];
  const table = [head, ...body, total];
  const text = by.length + (by.includes('KEY') ? 1 : 0);
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return `${table.map((row) => row.map((cell, i) => (i < text ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n')}\n`
    + `${v.coveredDays.length} provider-days covered; amounts in ${v.currency}\n`;
}

function day(value: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(value)) throw new InvalidArgumentError('must be a day, YYYY-MM-DD');
  return value;
}

function dimensions(value: string): ShadowDimension[] {
  const list = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = list.find((d) => !(SHADOW_DIMENSIONS as readonly string[]).includes(d));
  if (bad !== undefined || list.length === 0) throw new InvalidArgumentError(`use ${SHADOW_DIMENSIONS.map((d) => d.toLowerCase()).join(', ')} (comma-separated)`);
  return list as ShadowDimension[];
}
