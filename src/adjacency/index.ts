/**
 * The adjacency analysis as one pure function: rows in, graph, edges, cross-BU communities and alerts out.
 * The database and HTTP stay at the edges (repositories fill the rows; the store and the webhook take the
 * alerts).
 */
import { raiseAlerts, type AlertOptions } from './alerts.js';
import { buildAdjacency, type Adjacency, type AdjacencyOptions } from './graph.js';
import type { AdjacencyAlert, AdjacencyRows } from './types.js';

export type AnalysisOptions = AdjacencyOptions & { alerts?: Partial<AlertOptions> };
export type Analysis = Adjacency & { alerts: AdjacencyAlert[] };

export function analyzeAdjacency(rows: AdjacencyRows, options: AnalysisOptions = {}): Analysis {
  const { alerts: alertOptions, ...graphOptions } = options;
  const adjacency = buildAdjacency(rows, graphOptions);
  return { ...adjacency, alerts: raiseAlerts(adjacency.graph, { period: rows.period, budgets: rows.budgets }, alertOptions) };
}

export { ALERT_DEFAULTS, alertKey, percentile, raiseAlerts, type AlertContext, type AlertOptions } from './alerts.js';
export {
  buildAdjacency, combinedWeight, crossBuCommunities, edgeList, GRAPH_DEFAULTS, graphFromSignals,
  type Adjacency, type AdjacencyGraph, type AdjacencyOptions, type GraphOptions,
} from './graph.js';
export { computeSignals, couplingTable, leadLag, removeWeekdayMedians, SIGNAL_DEFAULTS, type SignalOptions } from './signals.js';
export { mulberry32 } from '../analytics/random.js';
export * from './types.js';
