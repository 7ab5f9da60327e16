/**
 * The adjacency graph: use cases as nodes (bu, class, spend), one undirected edge per cross-BU pair that at
 * least one signal joins, weighted by
 *
 *   weight = Σ_s w_s · x_s / Σ_s w_s      (s ∈ classCoupling, sharedTools, interactions, leadLag)
 *
 * where every x_s is in [0, 1] (leadLag = r when significant, else 0), so weight is in [0, 1] too.
 * Communities come from Louvain with a seeded rng, so a run is reproducible.
 */
import { UndirectedGraph } from 'graphology';
import louvainModule from 'graphology-communities-louvain';
import { computeSignals, SIGNAL_DEFAULTS, type SignalOptions } from './signals.js';
import { mulberry32 } from '../analytics/random.js';
import {
  AdjacencyOptionsError, resolveOptions, SIGNAL_NAMES,
  type AdjacencyEdge, type AdjacencyRows, type Community, type EdgeAttributes, type NodeAttributes, type PairSignals, type SignalWeights,
} from './types.js';

export const GRAPH_DEFAULTS = {
  weightClassCoupling: 0.2,
  weightSharedTools: 0.2,
  weightInteractions: 0.2,
  /** Lead-lag weighs double: co-moving spend is the behaviour the other signals only make plausible. */
  weightLeadLag: 0.4,
  /** Edges below this combined weight are left out of the graph. */
  minEdgeWeight: 0,
  louvainResolution: 1,
  louvainSeed: 7,
};
export type GraphOptions = typeof GRAPH_DEFAULTS;
export type AdjacencyOptions = Partial<GraphOptions & SignalOptions>;

const UNIT = { min: 0, max: 1 };
const RULES = {
  weightClassCoupling: UNIT, weightSharedTools: UNIT, weightInteractions: UNIT, weightLeadLag: UNIT,
  minEdgeWeight: UNIT,
  louvainResolution: { min: Number.MIN_VALUE, max: 100 },
  louvainSeed: { min: 0, max: 2 ** 32 - 1, integer: true },
};

// The package ships CommonJS (`module.exports = fn`) under types that declare an ES default export, so under
// NodeNext TypeScript types the default import as the module object; at run time it is the function.
const louvain = louvainModule as unknown as typeof louvainModule.default;

export type AdjacencyGraph = UndirectedGraph<NodeAttributes, EdgeAttributes>;
export type Adjacency = { graph: AdjacencyGraph; edges: AdjacencyEdge[]; communities: Community[] };

function split(options: AdjacencyOptions): [Partial<GraphOptions>, Partial<SignalOptions>] {
  const graph: Record<string, unknown> = {}, signals: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) (Object.hasOwn(SIGNAL_DEFAULTS, k) ? signals : graph)[k] = v;
  return [graph, signals];
}

export function resolveGraphOptions(options: Partial<GraphOptions> = {}): Readonly<GraphOptions> {
  const o = resolveOptions(GRAPH_DEFAULTS, RULES, options);
  if (o.weightClassCoupling + o.weightSharedTools + o.weightInteractions + o.weightLeadLag <= 0) {
    throw new AdjacencyOptionsError('weightLeadLag', 'and the other signal weights must not all be 0');
  }
  return o;
}

export function combinedWeight(x: SignalWeights, o: GraphOptions): number {
  const w: SignalWeights = {
    classCoupling: o.weightClassCoupling, sharedTools: o.weightSharedTools, interactions: o.weightInteractions, leadLag: o.weightLeadLag,
  };
  let sum = 0, total = 0;
  for (const s of SIGNAL_NAMES) { sum += w[s] * x[s]; total += w[s]; }
  return sum / total;
}

function edgeAttributes(pair: PairSignals, o: GraphOptions): EdgeAttributes {
  return {
    weight: combinedWeight(pair.weights, o),
    signals: pair.weights,
    fired: SIGNAL_NAMES.filter((s) => pair.weights[s] > 0),
    evidence: pair.evidence,
  };
}

/** Builds the graph from pair signals already computed (the part of buildAdjacency that needs no rows). */
export function graphFromSignals(rows: Pick<AdjacencyRows, 'useCases'>, pairs: readonly PairSignals[], options: Partial<GraphOptions> = {}): AdjacencyGraph {
  const o = resolveGraphOptions(options);
  const graph: AdjacencyGraph = new UndirectedGraph({ allowSelfLoops: false });
  for (const u of [...rows.useCases].sort((a, b) => (a.id < b.id ? -1 : 1))) graph.addNode(u.id, { bu: u.bu, class: u.class, spend: u.spend });
  for (const pair of pairs) {
    const attrs = edgeAttributes(pair, o);
    if (attrs.weight > 0 && attrs.weight >= o.minEdgeWeight) graph.addEdgeWithKey(`${pair.source}--${pair.target}`, pair.source, pair.target, attrs);
  }
  return graph;
}

/** Louvain communities (renumbered by their smallest member) that hold use cases of two or more BUs. */
export function crossBuCommunities(graph: AdjacencyGraph, options: Partial<GraphOptions> = {}): Community[] {
  const o = resolveGraphOptions(options);
  if (graph.size === 0) return [];
  const mapping = louvain(graph, { getEdgeWeight: 'weight', resolution: o.louvainResolution, rng: mulberry32(o.louvainSeed) });
  const groups = new Map<number, string[]>();
  graph.forEachNode((id) => { const c = mapping[id]!; (groups.get(c) ?? groups.set(c, []).get(c)!).push(id); });
  return [...groups.values()]
    .map((members) => members.sort())
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
    .map((useCases, id) => ({
      id,
      useCases,
      bus: [...new Set(useCases.map((u) => graph.getNodeAttribute(u, 'bu')))].sort(),
      spend: useCases.reduce((s, u) => s + graph.getNodeAttribute(u, 'spend'), 0),
    }))
    .filter((c) => c.bus.length >= 2);
}

export function edgeList(graph: AdjacencyGraph): AdjacencyEdge[] {
  return graph.mapEdges((_key, attrs, source, target, sa, ta) => ({ source, target, sourceBu: sa.bu, targetBu: ta.bu, ...attrs }));
}

/** Rows in, graph and findings out: signals → graph → cross-BU communities. */
export function buildAdjacency(rows: AdjacencyRows, options: AdjacencyOptions = {}): Adjacency {
  const [graphOptions, signalOptions] = split(options);
  resolveGraphOptions(graphOptions);
  const graph = graphFromSignals(rows, computeSignals(rows, signalOptions), graphOptions);
  return { graph, edges: edgeList(graph), communities: crossBuCommunities(graph, graphOptions) };
}
