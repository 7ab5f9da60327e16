import { InvalidArgumentError, type Command } from 'commander';
import { parseMonth } from '../adjacency/period.js';
import { runAdjacency, type RunSummary } from '../adjacency/runner.js';
import { analysisOptionsFrom } from '../adjacency/schedule.js';
import { loadConfig } from '../config.js';
import { ALERT_STATUSES, listAlerts, transitionAlert, type AlertRow, type AlertStatus } from '../db/adjacency.js';
import { listAlertDeliveries, type AlertDelivery } from '../db/notifications.js';
import { withDb } from './db.js';
import { defaultActor } from './extend.js';

export function adjacencyCommands(adjacency: Command): void {
  adjacency.command('run')
    .description("analyse a month now (default: the current one); new alerts go to the council's webhook")
    .option('--period <YYYY-MM>', 'the month', month)
    .action(async (opts: { period?: string }) => {
      const options = analysisOptionsFrom(loadConfig().adjacency);
      const summary = await withDb((db) => runAdjacency(db, { period: opts.period, triggeredBy: `cli:${defaultActor()}`, options }));
      console.log(formatSummary(summary!));
    });

  adjacency.command('alerts')
    .description('adjacency alerts, newest first')
    .option('--status <list>', `comma-separated: ${ALERT_STATUSES.join(', ')}`, statuses)
    .option('--period <YYYY-MM>', 'only this month', month)
    .option('--bu <id>', 'only alerts with a side in this BU')
    .option('--first <n>', 'at most this many', (v) => positiveInt(v), 50)
    .action(async (opts: { status?: AlertStatus[]; period?: string; bu?: string; first: number }) => {
      const out = await withDb(async (db) => {
        const alerts = await listAlerts(db, opts);
        return formatAlerts(alerts, await listAlertDeliveries(db, alerts.map((a) => a.id)));
      });
      process.stdout.write(out);
    });

  lifecycle(adjacency, 'ack', 'acknowledged', 'acknowledge an open alert', false);
  lifecycle(adjacency, 'escalate', 'escalated', 'escalate an open or acknowledged alert to the council', true);
  lifecycle(adjacency, 'resolve', 'resolved', 'resolve an alert (final)', true);
}

function lifecycle(adjacency: Command, name: string, to: AlertStatus, description: string, noteRequired: boolean): void {
  const cmd = adjacency.command(name).description(description).argument('<id>', 'the alert id', (v) => positiveInt(v));
  (noteRequired ? cmd.requiredOption('--note <text>', 'why (recorded)') : cmd.option('--note <text>', 'why (recorded)'))
    .option('--by <name>', 'who (recorded; default cli:<OS user>)')
    .action(async (id: number, opts: { note?: string; by?: string }) => {
      const alert = await withDb((db) => transitionAlert(db, { id, to, by: opts.by ?? `cli:${defaultActor()}`, note: opts.note ?? null }));
      console.log(`alert ${alert.id} (${alert.pair.join(' × ')}, ${alert.period}) is now ${alert.status}`);
    });
}

export function formatSummary(s: RunSummary): string {
  return `run ${s.run.id} for ${s.run.period}: ${s.nodes} nodes, ${s.edges} edges, ${s.communities} cross-BU communities; `
    + `alerts: ${s.alerts.new} new, ${s.alerts.known} known`;
}

export function formatAlerts(alerts: readonly AlertRow[], deliveries: readonly AlertDelivery[]): string {
  if (alerts.length === 0) return 'no alerts\n';
  return alerts.map((a) => {
    const d = deliveries.find((x) => x.alert_id === a.id);
    return [
      String(a.id).padStart(5), a.status.padEnd(12), a.period, `${a.pair.join(' × ')} (${a.bus.join(' × ')})`,
      `weight ${a.weight.toFixed(2)}`, a.signals.join('+'), `runs ${a.runs}`, `last seen ${new Date(a.last_seen_at).toISOString()}`,
      `webhook ${d?.status ?? 'none'}`,
    ].join('  ');
  }).join('\n') + '\n';
}

function month(value: string): string {
  try {
    return parseMonth(value).period;
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function statuses(value: string): AlertStatus[] {
  const list = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const bad = list.find((s) => !(ALERT_STATUSES as readonly string[]).includes(s));
  if (bad !== undefined || list.length === 0) throw new InvalidArgumentError(`use ${ALERT_STATUSES.join(', ')} (comma-separated)`);
  return list as AlertStatus[];
}

function positiveInt(value: string): number {
  if (!/^[1-9]\d{0,14}$/.test(value)) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}
