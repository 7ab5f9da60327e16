/**
 * Node positions for drawing the graph, computed once per run on the server so that every viewer of a run
 * sees the same picture: a circular start (deterministic: nodes in id order) refined by a fixed number of
 * ForceAtlas2 iterations (no Barnes-Hut, whose quadtree is the only order-sensitive part), then scaled
 * into the unit square. A pure function of the graph, like the analysis.
 */
import circularModule from 'graphology-layout/circular.js';
import forceAtlas2Module from 'graphology-layout-forceatlas2';
import type { UndirectedGraph } from 'graphology';
import type { AdjacencyGraph } from './graph.js';

// CommonJS packages whose types declare an ES default export (as for Louvain in graph.ts).
const circular = circularModule as unknown as typeof circularModule.default;
const forceAtlas2 = forceAtlas2Module as unknown as typeof forceAtlas2Module.default;

export const LAYOUT_DEFAULTS = { iterations: 300 };
export type Positions = Map<string, { x: number; y: number }>;

export function layoutGraph(graph: AdjacencyGraph, options: Partial<typeof LAYOUT_DEFAULTS> = {}): Positions {
  const iterations = options.iterations ?? LAYOUT_DEFAULTS.iterations;
  const g = graph.copy() as unknown as UndirectedGraph<{ x?: number; y?: number }>;
  circular.assign(g);
  if (g.size > 0 && iterations > 0) {
    const settings = { ...forceAtlas2.inferSettings(g), barnesHutOptimize: false };
    forceAtlas2.assign(g, { iterations, settings, getEdgeWeight: 'weight' });
  }
  return normalized(g.mapNodes((id, a) => ({ id, x: a.x ?? 0, y: a.y ?? 0 })));
}

/** Into [0, 1] × [0, 1], keeping the aspect ratio; a single node sits in the middle. */
function normalized(points: { id: string; x: number; y: number }[]): Positions {
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const minX = Math.min(...xs), minY = Math.min(...ys);
  const span = Math.max(Math.max(...xs) - minX, Math.max(...ys) - minY);
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return new Map(points.map((p) => [p.id, span > 0 ? { x: round((p.x - minX) / span), y: round((p.y - minY) / span) } : { x: 0.5, y: 0.5 }]));
}
