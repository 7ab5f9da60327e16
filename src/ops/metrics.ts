import client from 'prom-client';
import type { MeterStats } from '../metering/meter.js';

/** tollgate's Prometheus metrics, on a registry of their own (so several apps can live in one process). */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const calls = new client.Counter({
    name: 'tollgate_calls_total',
    help: 'Calls by provider, decision code and whether they were allowed',
    labelNames: ['provider', 'code', 'allowed'] as const,
    registers: [registry],
  });
  const tokens = new client.Counter({
    name: 'tollgate_tokens_total',
    help: 'Tokens metered, by provider, served model and kind (input, cached_input, cache_write, output)',
    labelNames: ['provider', 'model', 'kind'] as const,
    registers: [registry],
  });
  const cost = new client.Counter({
    name: 'tollgate_cost_total',
    help: 'Cost metered, by provider, served model and currency (the ledger holds the exact figure)',
    labelNames: ['provider', 'model', 'currency'] as const,
    registers: [registry],
  });
  const flagged = new client.Counter({
    name: 'tollgate_usage_flagged_total',
    help: 'Calls metered with a flag (over_bound, usage_invalid, usage_unread, metering_failed, …): not billed simply as reported',
    labelNames: ['provider', 'flag'] as const,
    registers: [registry],
  });
  const decisionSeconds = new client.Histogram({
    name: 'tollgate_decision_seconds',
    help: 'Time spent evaluating the compiled policy',
    buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01],
    registers: [registry],
  });
  const overheadSeconds = new client.Histogram({
    name: 'tollgate_gateway_overhead_seconds',
    help: 'Time from receiving a call to forwarding it upstream (authentication, tags, facts, decision)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [registry],
  });
  return { registry, calls, tokens, cost, flagged, decisionSeconds, overheadSeconds };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The policy revision deciding now, as an info metric (1, its revision a label); none while no policy is loaded. */
export function registerPolicyInfo(metrics: Metrics, revision: () => string | null): void {
  new client.Gauge({
    name: 'tollgate_policy_info',
    help: 'The policy bundle revision deciding calls',
    labelNames: ['revision'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      const r = revision();
      if (r) this.labels(r).set(1);
    },
  });
}

/** The meter's own state, read when Prometheus scrapes: a growing backlog means Postgres is not keeping up. */
export function registerMeterGauges(metrics: Metrics, stats: () => MeterStats): void {
  const gauge = (name: string, help: string, read: (s: MeterStats) => number) =>
    new client.Gauge({ name, help, registers: [metrics.registry], collect() { this.set(read(stats())); } });
  gauge('tollgate_meter_pending_events', 'Events journaled but not yet written to Postgres', (s) => s.pending);
  gauge('tollgate_meter_flush_failures', 'Failed flush attempts since start', (s) => s.failures);
  gauge('tollgate_meter_rejected_events', 'Records Postgres refused as data since start, set aside in metering_dead_letters (alert on any)', (s) => s.rejected);
  gauge('tollgate_meter_sanitized_events', 'Of the refused records, those whose sanitized copy was written (flagged sanitized)', (s) => s.sanitized);
  gauge('tollgate_meter_consecutive_failures', 'Failed flush attempts in the current streak (0 when the last flush succeeded)', (s) => s.consecutiveFailures);
  gauge('tollgate_meter_oldest_pending_seconds', 'Age of the oldest record not yet written to Postgres (0 when none)', (s) => (s.oldestPendingAt === null ? 0 : (Date.now() - s.oldestPendingAt) / 1000));
  gauge('tollgate_meter_last_flush_seconds', 'Duration of the last flush', (s) => (s.lastFlushMs ?? 0) / 1000);
}


/**
 * The budget statements a replica sent Postgres, by kind, read when Prometheus scrapes. With leases on, the
 * per-call kinds (reserve, shrink, release) appear only near a cap; acquire once per new session or dry lease.
 */
export function registerBudgetStatements(metrics: Metrics, counts: () => Readonly<Record<string, number>>): void {
  new client.Counter({
    name: 'tollgate_budget_statements_total',
    help: 'Budget statements sent to Postgres by kind: reserve, shrink, release (per call, exact), acquire, settle (leases), sweep',
    labelNames: ['kind'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(counts())) this.labels(kind).inc(n);
    },
  });
}
