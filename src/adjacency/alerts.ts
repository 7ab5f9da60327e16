/**
 * Harmonization alerts: a cross-BU edge at least `minWeight` strong whose two ends both spend heavily, heavy
 * meaning at or above the `spendPercentile`-th percentile of the period's use-case spend, or at or above
 * `budgetShare` of the use case's budget. Each alert carries its evidence and a key that is stable across
 * runs (period, sorted pair, fired signals), so a store can insert-or-ignore.
 */
import type { AdjacencyGraph } from './graph.js';
import { resolveOptions, type AdjacencyAlert, type AlertSide, type BudgetRow, type NodeAttributes, type Period } from './types.js';

export const ALERT_DEFAULTS = {
  minWeight: 0.5,
  /** Nearest-rank percentile of use-case spend over the period; 75: the top quarter. */
  spendPercentile: 75,
  budgetShare: 0.8,
};
export type AlertOptions = typeof ALERT_DEFAULTS;

const RULES = {
  minWeight: { min: 0, max: 1 },
  spendPercentile: { min: 0, max: 100 },
  budgetShare: { min: 0, max: 100 },
};

export type AlertContext = { period: Period; budgets?: readonly BudgetRow[] };

/** Nearest-rank percentile (p = 0 gives the smallest value). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function alertKey(period: Period, pair: readonly [string, string], signals: readonly string[]): string {
  return `adjacency:${period.from}/${period.to}:${pair[0]}|${pair[1]}:${[...signals].sort().join('+')}`;
}

function side(useCase: string, node: NodeAttributes, threshold: number, budget: number | undefined, o: AlertOptions): AlertSide {
  const share = budget !== undefined && budget > 0 ? node.spend / budget : null;
  const heavy: AlertSide['heavy'] = [];
  if (node.spend > 0 && node.spend >= threshold) heavy.push('percentile');
  if (share !== null && node.spend > 0 && share >= o.budgetShare) heavy.push('budget');
  return { useCase, bu: node.bu, spend: node.spend, heavy, budget: budget ?? null, budgetShare: share };
}

/** Alerts sorted by descending weight, then key. */
export function raiseAlerts(graph: AdjacencyGraph, context: AlertContext, options: Partial<AlertOptions> = {}): AdjacencyAlert[] {
  const o = resolveOptions(ALERT_DEFAULTS, RULES, options);
  const budgets = new Map((context.budgets ?? []).map((b) => [b.use_case, b.limit]));
  const threshold = percentile(graph.mapNodes((_id, a) => a.spend), o.spendPercentile);
  const alerts: AdjacencyAlert[] = [];
  graph.forEachEdge((_key, e, source, target, sa, ta) => {
    if (e.weight < o.minWeight) return;
    const sides: [AlertSide, AlertSide] = [side(source, sa, threshold, budgets.get(source), o), side(target, ta, threshold, budgets.get(target), o)];
    if (sides.some((s) => s.heavy.length === 0)) return;
    const pair: [string, string] = [source, target];
    alerts.push({
      key: alertKey(context.period, pair, e.fired), period: context.period, pair, weight: e.weight,
      signals: e.fired, evidence: e.evidence, sides, spendThreshold: threshold,
    });
  });
  return alerts.sort((a, b) => b.weight - a.weight || (a.key < b.key ? -1 : 1));
}
