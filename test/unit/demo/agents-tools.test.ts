import { describe, expect, it } from 'vitest';
import { DEMO_AGENTS } from '../../../src/demo/agents.js';
import { TOOL_NAME } from '../../../src/providers/tools.js';

describe('demo agents\' tools', () => {
  it('share exactly one tool across BUs: inventory_lookup, between trade promo and demand forecasting (the reference case)', () => {
    const shared: string[] = [];
    for (const a of DEMO_AGENTS) {
      for (const b of DEMO_AGENTS) {
        if (a.bu >= b.bu) continue;
        for (const tool of a.tools.filter((t) => b.tools.includes(t))) shared.push([a.useCase, b.useCase].sort().concat(tool).join(' × '));
      }
    }
    expect(shared).toEqual(['demand-forecasting × trade-promo-automation × inventory_lookup']);
  });

  it('declare at least two tools each, all of them names tollgate meters', () => {
    for (const a of DEMO_AGENTS) {
      expect(a.tools.length).toBeGreaterThanOrEqual(2);
      for (const tool of a.tools) expect(tool).toMatch(TOOL_NAME);
    }
  });
});
