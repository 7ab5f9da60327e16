import { describe, expect, it } from 'vitest';
import { buildAlertPayload, reasons } from '../../../src/adjacency/payload.js';
import type { AdjacencyAlert } from '../../../src/adjacency/types.js';

const alert: AdjacencyAlert = {
  key: 'k', period: { from: '2026-06-01', to: '2026-07-01' }, pair: ['demand-forecasting', 'trade-promo-automation'], weight: 0.7321,
  signals: ['classCoupling', 'sharedTools', 'leadLag'], spendThreshold: 100,
  evidence: {
    classCoupling: { classes: ['demand-planning', 'demand-shaping'], weight: 1 },
    sharedTools: { tools: ['inventory_lookup'], overlap: 0.25 },
    leadLag: { leader: 'trade-promo-automation', follower: 'demand-forecasting', lagDays: 3, r: 0.912, pFamily: 0.0001, p: 0.005, z: 4.2, permutations: 200, significant: true },
  },
  sides: [
    { useCase: 'demand-forecasting', bu: 'supply-chain', spend: 1620.5, heavy: ['percentile'], budget: 3000, budgetShare: 0.54 },
    { useCase: 'trade-promo-automation', bu: 'marketing', spend: 1950.25, heavy: ['percentile', 'budget'], budget: 2500, budgetShare: 0.78 },
  ],
};

describe('council alert payload', () => {
  const payload = buildAlertPayload({
    alertId: 12, key: 'adjacency:2026-06:demand-forecasting|trade-promo-automation', period: '2026-06', runId: 3, alert,
    spend: ['1620.500000000000', '1950.250000000000'], currency: 'USD', at: '2026-06-30T10:00:00.000Z',
  });

  it('reads as one sentence for Slack, with each signal spelled out', () => {
    expect(payload.text).toBe(':link: Adjacency alert — demand-forecasting (supply-chain) and trade-promo-automation (marketing) move together in 2026-06 '
      + '(weight 0.73; spend 1,620.50 USD and 1,950.25 USD). Council notified.');
    expect(JSON.stringify(payload.blocks)).toContain("trade-promo-automation's daily spend leads demand-forecasting's by 3 days (r 0.91, p 0.005)");
  });

  it('carries the structured alert for receivers that are not Slack', () => {
    expect(payload.tollgate).toMatchObject({
      kind: 'adjacency_alert', alert_id: 12, period: '2026-06', run_id: 3, pair: alert.pair, bus: ['supply-chain', 'marketing'], recipient: 'council',
      evidence: alert.evidence, sides: [{ use_case: 'demand-forecasting', spend: '1620.500000000000', heavy: ['percentile'] }, { use_case: 'trade-promo-automation', budget: 2500 }],
    });
  });

  it('names only the signals that fired', () => {
    expect(reasons({ interactions: { sessions: 2, calls: 1, weight: 0.375 } })).toEqual(['2 shared sessions and 1 agent-to-agent calls']);
    expect(reasons({ leadLag: { ...alert.evidence.leadLag!, significant: false } })).toEqual([]);
  });
});
