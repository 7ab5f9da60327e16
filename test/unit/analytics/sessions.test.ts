import { describe, expect, it } from 'vitest';
import { buildSessionTree, flattenTree, type SessionCall } from '../../../src/analytics/sessions.js';

const call = (id: string, parent: string | null, second: number, cost = '1'): SessionCall => ({
  request_id: id, parent_request_id: parent, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, second)), bu_id: 'bu', use_case_id: 'uc', agent_id: 'a',
  model_served: 'm', input_tokens: 10, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 5, cost,
});
const shape = (calls: SessionCall[]) => flattenTree(buildSessionTree('s', calls).roots).map((n) => `${n.call.request_id}:${n.depth}${n.note ? `:${n.note}` : ''}`);

describe('buildSessionTree', () => {
  it('nests children under parents, siblings by time, with subtree costs', () => {
    const tree = buildSessionTree('s', [call('c', 'a', 3, '0.25'), call('a', null, 1, '1'), call('b', 'a', 2, '2'), call('d', 'b', 4, '0.5')]);
    expect(flattenTree(tree.roots).map((n) => n.call.request_id)).toEqual(['a', 'b', 'd', 'c']);
    expect(tree.roots[0]!.subtreeCost).toBe('3.750000000000');
    expect(tree.roots[0]!.subtreeTokens).toBe(60);
    expect(tree).toMatchObject({ steps: 4, cost: '3.750000000000', tokens: 60, maxDepth: 2 });
  });

  it('makes a call whose parent is not in the session a root with a note', () => {
    expect(shape([call('a', null, 1), call('x', 'gone', 2), call('y', 'x', 3)])).toEqual(['a:0', 'x:0:PARENT_NOT_IN_SESSION', 'y:1']);
  });

  it('cuts a cycle at its earliest call, and keeps calls hanging off the cycle', () => {
    // a → b → c → a, and d (earliest of all) hangs off c: d is not on the cycle.
    const calls = [call('d', 'c', 0), call('a', 'c', 1), call('b', 'a', 2), call('c', 'b', 3)];
    expect(shape(calls)).toEqual(['a:0:CYCLE', 'b:1', 'c:2', 'd:3']);
    expect(buildSessionTree('s', calls).cost).toBe('4.000000000000');
    expect(shape([call('self', 'self', 1)])).toEqual(['self:0:CYCLE']);
  });

  it('walks a chain 50,000 deep without overflowing the stack', () => {
    const calls = Array.from({ length: 50_000 }, (_, i) => call(`n${i}`, i === 0 ? null : `n${i - 1}`, 0, '0.000002'));
    const tree = buildSessionTree('s', calls);
    expect(tree.maxDepth).toBe(49_999);
    expect(tree.cost).toBe('0.100000000000');
  });

  it('summarizes agents, BUs and time', () => {
    const t = buildSessionTree('s', [{ ...call('a', null, 5), agent_id: 'z', bu_id: 'b2' }, call('b', null, 1)]);
    expect(t).toMatchObject({ agents: ['a', 'z'], businessUnits: ['b2', 'bu'], startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 1)) });
    expect(buildSessionTree('s', [])).toMatchObject({ steps: 0, cost: '0.000000000000', startedAt: null });
  });
});
