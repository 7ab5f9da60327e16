import { describe, expect, it } from 'vitest';
import { buildAdjacency, combinedWeight, GRAPH_DEFAULTS, type AdjacencyRows } from '../../../src/adjacency/index.js';

const period = { from: '2026-03-01', to: '2026-04-01' };

describe('combined weight', () => {
  it('is the weighted mean of the signal weights (DEFAULTS 0.2, 0.2, 0.2, 0.4)', () => {
    const w = combinedWeight({ classCoupling: 1, sharedTools: 0.5, interactions: 0, leadLag: 0.9 }, GRAPH_DEFAULTS);
    expect(w).toBeCloseTo((0.2 * 1 + 0.2 * 0.5 + 0.4 * 0.9) / 1.0, 12);
  });
});

describe('communities', () => {
  // Two tool-sharing clusters, each across BUs, joined by one weak session.
  const rows: AdjacencyRows = {
    period,
    useCases: ['a1:m', 'b1:s', 'c1:i', 'a2:m', 'b2:s', 'c2:i'].map((s) => { const [id, bu] = s.split(':') as [string, string]; return { id, bu, class: 'c', spend: 10 }; }),
    tools: [
      ...['a1', 'b1', 'c1'].map((use_case) => ({ use_case, tool: 'one', calls: 100 })),
      ...['a2', 'b2'].map((use_case) => ({ use_case, tool: 'two', calls: 100 })),
    ],
    sessions: [{ session_id: 'x', use_case: 'c1', bu: 'i' }, { session_id: 'x', use_case: 'b2', bu: 's' }],
  };

  it('reports the Louvain communities that span two or more BUs, the same on every run', () => {
    const { communities, edges } = buildAdjacency(rows);
    expect(edges.map((e) => [e.source, e.target])).toEqual([['a1', 'b1'], ['a1', 'c1'], ['a2', 'b2'], ['b1', 'c1'], ['b2', 'c1']]);
    expect(communities).toEqual([
      { id: 0, useCases: ['a1', 'b1', 'c1'], bus: ['i', 'm', 's'], spend: 30 },
      { id: 1, useCases: ['a2', 'b2'], bus: ['m', 's'], spend: 20 },
    ]);
    expect(buildAdjacency({ ...rows, useCases: [...rows.useCases].reverse() }).communities).toEqual(communities);
  });

  it('puts BU, class and spend on the nodes and one weight per signal on the edges', () => {
    const { graph } = buildAdjacency(rows);
    expect(graph.getNodeAttributes('a1')).toEqual({ bu: 'm', class: 'c', spend: 10 });
    expect(graph.getEdgeAttributes('a1--b1')).toMatchObject({ signals: { classCoupling: 0, sharedTools: 1, interactions: 0, leadLag: 0 }, fired: ['sharedTools'], weight: 0.2 });
  });
});
