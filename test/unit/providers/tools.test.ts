import { describe, expect, it } from 'vitest';
import { MAX_TOOLS_PER_CALL, ToolNames, mergeToolNames } from '../../../src/providers/tools.js';

describe('tool names', () => {
  it('keeps sane names, distinct and sorted', () => {
    const names = new ToolNames();
    for (const name of ['sales_history', 'inventory_lookup', 'ns.tool:v2-beta', 'sales_history', 'A_Tool']) names.add(name);
    expect(names.sorted()).toEqual(['A_Tool', 'inventory_lookup', 'ns.tool:v2-beta', 'sales_history']);
  });

  it('drops what is not a name, without failing: other types, empty, spaces, quotes, markup, too long', () => {
    const names = new ToolNames();
    for (const junk of [undefined, null, 42, {}, ['x'], '', 'two words', 'a"b', '<script>', 'semi;colon', 'x'.repeat(129), 'ünï', 'a\nb']) names.add(junk);
    names.add('y'.repeat(128));
    expect(names.sorted()).toEqual(['y'.repeat(128)]);
  });

  it(`keeps at most ${MAX_TOOLS_PER_CALL} per call, the first ones seen`, () => {
    const names = new ToolNames();
    for (let i = 0; i < 1000; i++) names.add(`tool_${String(i).padStart(4, '0')}`);
    const kept = names.sorted();
    expect(kept).toHaveLength(MAX_TOOLS_PER_CALL);
    expect(kept.at(-1)).toBe(`tool_${String(MAX_TOOLS_PER_CALL - 1).padStart(4, '0')}`);
  });

  it('merges request and response names into one sorted union', () => {
    expect(mergeToolNames(['b', 'a'], undefined, ['c', 'a', 'bad name'])).toEqual(['a', 'b', 'c']);
    expect(mergeToolNames(undefined, [])).toEqual([]);
  });
});
