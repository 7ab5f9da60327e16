import { describe, expect, it } from 'vitest';
import { buildAdjacency, type AdjacencyRows } from '../../../src/adjacency/index.js';
import { layoutGraph } from '../../../src/adjacency/layout.js';
import { monthOf, parseMonth, PeriodError } from '../../../src/adjacency/period.js';

const rows: AdjacencyRows = {
  period: { from: '2026-03-01', to: '2026-04-01' },
  useCases: ['a1:m', 'b1:s', 'c1:i', 'a2:m', 'b2:s', 'd:i'].map((s) => { const [id, bu] = s.split(':') as [string, string]; return { id, bu, class: 'c', spend: 10 }; }),
  tools: [...['a1', 'b1', 'c1'].map((use_case) => ({ use_case, tool: 'one', calls: 100 })), ...['a2', 'b2'].map((use_case) => ({ use_case, tool: 'two', calls: 100 }))],
};

describe('layout', () => {
  it('places every node in the unit square, the same way on every run and for any row order', () => {
    const positions = layoutGraph(buildAdjacency(rows).graph);
    expect([...positions.keys()].sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'c1', 'd']);
    for (const p of positions.values()) {
      for (const v of [p.x, p.y]) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(Math.max(...[...positions.values()].flatMap((p) => [p.x, p.y]))).toBe(1);
    expect(layoutGraph(buildAdjacency(rows).graph)).toEqual(positions);
    expect(layoutGraph(buildAdjacency({ ...rows, useCases: [...rows.useCases].reverse() }).graph)).toEqual(positions);
  });

  it('draws use cases that share a tool closer together than unrelated ones', () => {
    const p = layoutGraph(buildAdjacency(rows).graph);
    const d = (a: string, b: string) => Math.hypot(p.get(a)!.x - p.get(b)!.x, p.get(a)!.y - p.get(b)!.y);
    expect(d('a2', 'b2')).toBeLessThan(d('a2', 'c1'));
    expect(d('a1', 'b1')).toBeLessThan(d('a1', 'b2'));
  });

  it('puts a lone node in the middle', () => {
    const one = buildAdjacency({ ...rows, useCases: rows.useCases.slice(0, 1), tools: [] }).graph;
    expect(layoutGraph(one)).toEqual(new Map([['a1', { x: 0.5, y: 0.5 }]]));
  });
});

describe('months', () => {
  it('reads YYYY-MM as a UTC calendar month', () => {
    expect(parseMonth('2026-02')).toEqual({
      period: '2026-02', from: new Date('2026-02-01T00:00:00Z'), to: new Date('2026-03-01T00:00:00Z'), days: { from: '2026-02-01', to: '2026-03-01' },
    });
    expect(parseMonth('2026-12').days.to).toBe('2027-01-01');
    expect(monthOf(new Date('2026-06-30T23:59:59Z')).period).toBe('2026-06');
  });

  it('refuses anything else with a typed error', () => {
    for (const bad of ['2026-13', '2026-6', 'June', '2026-06-01', '']) expect(() => parseMonth(bad)).toThrow(PeriodError);
  });
});
