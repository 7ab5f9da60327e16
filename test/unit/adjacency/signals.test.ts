import { describe, expect, it } from 'vitest';
import { buildAdjacency, computeSignals, couplingTable, leadLag, mulberry32, removeWeekdayMedians, type AdjacencyRows } from '../../../src/adjacency/index.js';

const period = { from: '2026-03-01', to: '2026-04-30' };
const noise = (seed: number, n = 60) => { const r = mulberry32(seed); return Float64Array.from({ length: n }, () => 100 + 20 * r()); };
const uc = (id: string, bu: string, cls = 'c') => ({ id, bu, class: cls, spend: 100 });

describe('lead-lag', () => {
  const x = noise(1);
  x[10]! += 200; x[25]! += 200; x[40]! += 150;
  const follower = Float64Array.from(x, (_, t) => (t >= 4 ? x[t - 4]! : 100) + 5 * mulberry32(t + 9)());

  it('recovers a known shift, with the leader named whichever order the pair comes in', () => {
    const ab = leadLag('a', x, 'b', follower, { deseasonalize: false });
    const ba = leadLag('b', follower, 'a', x, { deseasonalize: false });
    for (const ll of [ab, ba]) expect(ll).toMatchObject({ leader: 'a', follower: 'b', lagDays: 4, significant: true, permutations: 200 });
    expect(ab!.r).toBeGreaterThan(0.9);
    expect(ab!.p).toBeLessThanOrEqual(0.01);
  });

  it('finds independent noise not significant against the shuffled baseline', () => {
    const pairs = Array.from({ length: 50 }, (_, k) => [noise(100 + k), noise(200 + k)] as const);
    expect(pairs.filter(([a, b]) => leadLag('a', a, 'b', b)!.significant)).toHaveLength(0);
    // Every gate open (alpha 1), so the full permutation p of each pair shows: roughly uniform under noise.
    const ps = pairs.map(([a, b]) => leadLag('a', a, 'b', b, { minCorrelation: -1, alpha: 1 })!.p!);
    expect(ps.filter((p) => p <= 0.01).length).toBeLessThanOrEqual(2);
    expect(ps.filter((p) => p > 0.05).length).toBeGreaterThan(35);
  });

  it('does not read a weekly rhythm both series share as coupling (weekday medians removed)', () => {
    const weekly = (seed: number) => Float64Array.from(noise(seed), (v, t) => (t % 7 >= 5 ? 0.3 * v : v));
    expect(leadLag('a', weekly(1), 'b', weekly(2), { deseasonalize: false })!.significant).toBe(true);
    const first = 3; // period days are counted from 1970-01-01, a Thursday: any offset works the same
    const a = removeWeekdayMedians(weekly(1), first), b = removeWeekdayMedians(weekly(2), first);
    expect(leadLag('a', a, 'b', b, { deseasonalize: false })!.significant).toBe(false);
  });
});

describe('shared tools', () => {
  it('is the weighted Jaccard of call counts', () => {
    const rows: AdjacencyRows = {
      period, useCases: [uc('a', 'm'), uc('b', 's')],
      tools: [{ use_case: 'a', tool: 'x', calls: 10 }, { use_case: 'a', tool: 'y', calls: 5 }, { use_case: 'b', tool: 'x', calls: 4 }, { use_case: 'b', tool: 'z', calls: 6 }],
    };
    const [pair] = computeSignals(rows);
    expect(pair!.evidence.sharedTools).toEqual({ tools: ['x'], overlap: 4 / (10 + 5 + 6) });
    expect(pair!.weights.sharedTools).toBeCloseTo(4 / 21, 12);
  });
});

describe('class coupling', () => {
  it('is symmetric: declared either way, the pair gets the same weight', () => {
    expect(couplingTable({ period, useCases: [], couplings: [{ from: 'p', to: 'q', weight: 0.6 }] }))
      .toEqual(couplingTable({ period, useCases: [], couplings: [{ from: 'q', to: 'p', weight: 0.6 }] }));
    const rows = (from: string, to: string): AdjacencyRows => ({
      period, useCases: [uc('a', 'm', 'p'), uc('b', 's', 'q')], couplings: [{ from, to, weight: 0.6 }],
      sessions: [{ session_id: 's1', use_case: 'a', bu: 'm' }, { session_id: 's1', use_case: 'b', bu: 's' }],
    });
    expect(computeSignals(rows('p', 'q'))).toEqual(computeSignals(rows('q', 'p')));
    expect(computeSignals(rows('q', 'p'))[0]!.evidence.classCoupling).toEqual({ classes: ['p', 'q'], weight: 0.6 });
  });

  it('alone makes no edge: it is a prior, not an observation', () => {
    expect(computeSignals({ period, useCases: [uc('a', 'm', 'p'), uc('b', 's', 'q')], couplings: [{ from: 'p', to: 'q' }] })).toEqual([]);
  });
});

describe('cross-BU sessions and call chains', () => {
  it('counts sessions spanning BUs and agent-to-agent calls across them', () => {
    const rows: AdjacencyRows = {
      period, useCases: [uc('a', 'm'), uc('b', 's')],
      sessions: [{ session_id: 's1', use_case: 'a', bu: 'm' }, { session_id: 's1', use_case: 'b', bu: 's' }, { session_id: 's1', use_case: 'b', bu: 's' }],
      calls: [{ request_id: 'r1', parent_request_id: null, use_case: 'a', bu: 'm' }, { request_id: 'r2', parent_request_id: 'r1', use_case: 'b', bu: 's' }],
    };
    expect(computeSignals(rows)[0]!.evidence.interactions).toEqual({ sessions: 1, calls: 1, weight: 2 / 7 });
  });
});

describe('same-BU pairs', () => {
  it('never get an edge, whatever they share', () => {
    const x = noise(5);
    const rows: AdjacencyRows = {
      period, useCases: [uc('a', 'm', 'p'), uc('b', 'm', 'q')], couplings: [{ from: 'p', to: 'q' }],
      tools: [{ use_case: 'a', tool: 't', calls: 9 }, { use_case: 'b', tool: 't', calls: 9 }],
      sessions: [{ session_id: 's', use_case: 'a', bu: 'm' }, { session_id: 's', use_case: 'b', bu: 'm' }],
      calls: [{ request_id: 'r1', parent_request_id: null, use_case: 'a', bu: 'm' }, { request_id: 'r2', parent_request_id: 'r1', use_case: 'b', bu: 'm' }],
      dailySpend: [...x].flatMap((cost, t) => {
        const day = new Date(Date.UTC(2026, 2, 1 + t)).toISOString().slice(0, 10);
        return [{ use_case: 'a', day, cost }, { use_case: 'b', day, cost }];
      }),
    };
    expect(computeSignals(rows)).toEqual([]);
    expect(buildAdjacency(rows).graph.size).toBe(0);
  });
});
