import { describe, expect, it } from 'vitest';
import { anthropic } from '../../../../src/providers/anthropic/index.js';
import { SseParser } from '../../../../src/providers/sse.js';

const SECRETS = ['ARG_SECRET', 'DESCRIPTION_SECRET', 'PROMPT_SECRET', 'ANSWER_SECRET'];

function expectNamesOnly(names: string[]) {
  for (const secret of SECRETS) expect(JSON.stringify(names)).not.toContain(secret);
}

function event(type: string, fields: object): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
}

function readStream(text: string) {
  const reader = anthropic.streamReader('/messages');
  const parser = new SseParser((_raw, e) => e && reader.push(e.event, e.data));
  for (let i = 0; i < text.length; i += 50) parser.write(text.slice(i, i + 50));
  parser.end();
  return reader;
}

const tool = (name: unknown) => ({ name, description: 'DESCRIPTION_SECRET', input_schema: { type: 'object', properties: { sku: { type: 'string', description: 'DESCRIPTION_SECRET' } } } });

describe('anthropic: tools a request declares', () => {
  it('client and server tools by name', () => {
    const body = {
      model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'PROMPT_SECRET' }],
      tools: [tool('sales_history'), tool('inventory_lookup'), { type: 'web_search_20250305', name: 'web_search', max_uses: 3 }, tool('sales_history')],
    };
    const names = anthropic.requestTools('/messages', body);
    expect(names).toEqual(['inventory_lookup', 'sales_history', 'web_search']);
    expectNamesOnly(names);
  });

  it('ignores malformed declarations, and count_tokens (no call is made)', () => {
    expect(anthropic.requestTools('/messages', { tools: [null, 'x', tool(1), tool('has space'), tool(''), tool('ok')] })).toEqual(['ok']);
    expect(anthropic.requestTools('/messages', { tools: 'x' })).toEqual([]);
    expect(anthropic.requestTools('/messages/count_tokens', { tools: [tool('ok')] })).toEqual([]);
  });
});

describe('anthropic: tools an answer calls', () => {
  it('JSON: tool_use and server_tool_use blocks by name', () => {
    const body = {
      id: 'msg_1', type: 'message', stop_reason: 'tool_use', content: [
        { type: 'text', text: 'ANSWER_SECRET' },
        { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'ARG_SECRET' } },
        { type: 'tool_use', id: 'toolu_1', name: 'inventory_lookup', input: { sku: 'ARG_SECRET' } },
        { type: 'tool_result', name: 'not_a_call' },
      ],
    };
    const names = anthropic.toolsFromBody('/messages', body);
    expect(names).toEqual(['inventory_lookup', 'web_search']);
    expectNamesOnly(names);
  });

  it('JSON bodies that are not answers yield nothing', () => {
    expect(anthropic.toolsFromBody('/messages', null)).toEqual([]);
    expect(anthropic.toolsFromBody('/messages', { type: 'error', error: { type: 'overloaded_error' } })).toEqual([]);
    expect(anthropic.toolsFromBody('/messages', { content: [null, 'x', { type: 'tool_use', name: 7 }, { type: 'tool_use', name: 'a b' }] })).toEqual([]);
    expect(anthropic.toolsFromBody('/messages/count_tokens', { content: [{ type: 'tool_use', name: 'x' }] })).toEqual([]);
  });

  it('SSE: content_block_start with a tool_use block; the input streams as input_json_delta, never read', () => {
    const stream = [
      event('message_start', { message: { model: 'claude-sonnet-4-5', content: [], usage: { input_tokens: 12, output_tokens: 1 } } }),
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'ANSWER_SECRET "name": "tool_use"' } }),
      event('content_block_stop', { index: 0 }),
      event('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'sales_history', input: {} } }),
      event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"sku": "ARG_SECRET"}' } }),
      event('content_block_stop', { index: 1 }),
      event('content_block_start', { index: 2, content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} } }),
      event('content_block_stop', { index: 2 }),
      event('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }),
      event('message_stop', {}),
    ].join('');
    const reader = readStream(stream);
    expect(reader.tools()).toEqual(['sales_history', 'web_search']);
    expectNamesOnly(reader.tools());
    expect(reader.result()).toMatchObject({ complete: true, usage: { input_tokens: 12, output_tokens: 9 } });
  });

  it('SSE: malformed tool blocks are skipped', () => {
    const reader = readStream([
      event('content_block_start', { index: 0, content_block: { type: 'tool_use', name: { nested: 'x' } } }),
      'event: content_block_start\ndata: {"type":"content_block_start","content_block":{"type":"tool_use"\n\n',
      event('content_block_start', { index: 1, content_block: { type: 'tool_use', name: 'fine_tool' } }),
    ].join(''));
    expect(reader.tools()).toEqual(['fine_tool']);
  });
});
