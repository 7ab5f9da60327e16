import { describe, expect, it } from 'vitest';
import { AdjacencyInputError, AdjacencyOptionsError, analyzeAdjacency, buildAdjacency, raiseAlerts, type AdjacencyRows } from '../../../src/adjacency/index.js';

const rows: AdjacencyRows = { period: { from: '2026-03-01', to: '2026-04-01' }, useCases: [{ id: 'a', bu: 'm', class: 'c', spend: 1 }] };

function caught(fn: () => unknown): unknown {
  try { fn(); } catch (err) { return err; }
  throw new Error('expected a throw');
}

describe('options validation', () => {
  it.each([
    [{ maxLag: -1 }, 'maxLag'], [{ maxLag: 2.5 }, 'maxLag'], [{ alpha: 2 }, 'alpha'], [{ permutations: Number.NaN }, 'permutations'],
    [{ deseasonalize: 1 as unknown as boolean }, 'deseasonalize'], [{ weightLeadLag: 1.5 }, 'weightLeadLag'], [{ maxlag: 3 } as object, 'maxlag'],
    [{ weightClassCoupling: 0, weightSharedTools: 0, weightInteractions: 0, weightLeadLag: 0 }, 'weightLeadLag'],
  ])('refuses %o with an AdjacencyOptionsError naming %s', (options, option) => {
    const err = caught(() => buildAdjacency(rows, options));
    expect(err).toBeInstanceOf(AdjacencyOptionsError);
    expect(err).toMatchObject({ code: 'invalid_adjacency_option', option });
  });

  it('refuses bad alert thresholds', () => {
    const { graph } = buildAdjacency(rows);
    expect(caught(() => raiseAlerts(graph, { period: rows.period }, { spendPercentile: 101 }))).toMatchObject({ option: 'spendPercentile' });
  });
});

describe('input validation', () => {
  it.each([
    [{ ...rows, period: { from: '2026-02-30', to: '2026-04-01' } }, 'period.from'],
    [{ ...rows, period: { from: '2026-04-01', to: '2026-03-01' } }, 'period'],
    [{ ...rows, dailySpend: [{ use_case: 'a', day: '2026-04-02', cost: 1 }] }, 'dailySpend.day'],
    [{ ...rows, dailySpend: [{ use_case: 'a', day: '2026-03-02', cost: Number.POSITIVE_INFINITY }] }, 'dailySpend.cost'],
    [{ ...rows, couplings: [{ from: 'c', to: 'd', weight: 2 }] }, 'couplings.weight'],
  ])('refuses a bad row with an AdjacencyInputError (%#)', (bad, field) => {
    const err = caught(() => analyzeAdjacency(bad as AdjacencyRows));
    expect(err).toBeInstanceOf(AdjacencyInputError);
    expect(err).toMatchObject({ code: 'invalid_adjacency_input', field });
  });
});
