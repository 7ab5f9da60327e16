import { describe, expect, it } from 'vitest';
import { alertKey, buildAdjacency, percentile, raiseAlerts, type AdjacencyRows } from '../../../src/adjacency/index.js';

const period = { from: '2026-03-01', to: '2026-04-01' };
// a–b share every tool and a session (weight 0.2 + 0.2·1/6 + coupling 0.2 = 0.433…); c and d are small.
const rows: AdjacencyRows = {
  period,
  useCases: [
    { id: 'a', bu: 'm', class: 'p', spend: 900 }, { id: 'b', bu: 's', class: 'q', spend: 50 },
    { id: 'c', bu: 'm', class: 'x', spend: 10 }, { id: 'd', bu: 'i', class: 'x', spend: 60 },
  ],
  couplings: [{ from: 'p', to: 'q' }],
  tools: [{ use_case: 'a', tool: 't', calls: 5 }, { use_case: 'b', tool: 't', calls: 5 }],
  sessions: [{ session_id: 's', use_case: 'a', bu: 'm' }, { session_id: 's', use_case: 'b', bu: 's' }],
};

describe('alerts', () => {
  const { graph } = buildAdjacency(rows);

  it('needs the edge to be strong enough', () => {
    expect(raiseAlerts(graph, { period })).toEqual([]);
  });

  it('counts a side as heavy by the spend percentile or by its budget share, and says which', () => {
    const byBudget = raiseAlerts(graph, { period, budgets: [{ use_case: 'b', limit: 60 }] }, { minWeight: 0.4 });
    expect(byBudget).toHaveLength(1);
    expect(byBudget[0]!.sides.map((s) => s.heavy)).toEqual([['percentile'], ['budget']]);
    expect(byBudget[0]!.sides[1]).toMatchObject({ budget: 60, budgetShare: 50 / 60 });
    expect(raiseAlerts(graph, { period, budgets: [{ use_case: 'b', limit: 100 }] }, { minWeight: 0.4 })).toEqual([]);
    expect(raiseAlerts(graph, { period }, { minWeight: 0.4, spendPercentile: 50 })).toHaveLength(1);
  });

  it('keys an alert by period, sorted pair and signal set, whatever order the signals come in', () => {
    expect(alertKey(period, ['a', 'b'], ['sharedTools', 'classCoupling'])).toBe('adjacency:2026-03-01/2026-04-01:a|b:classCoupling+sharedTools');
  });

  it('takes the nearest-rank percentile', () => {
    expect([0, 25, 50, 75, 100].map((p) => percentile([40, 10, 30, 20], p))).toEqual([10, 10, 20, 30, 40]);
  });
});
