import { describe, expect, it } from 'vitest';
import { openai } from '../../../../src/providers/openai/index.js';
import { SseParser } from '../../../../src/providers/sse.js';

/** Every value below that is not a tool name must never come out of the extraction. */
const SECRETS = ['ARG_SECRET', 'DESCRIPTION_SECRET', 'PROMPT_SECRET', 'ANSWER_SECRET'];

function expectNamesOnly(names: string[]) {
  for (const secret of SECRETS) expect(JSON.stringify(names)).not.toContain(secret);
}

function readStream(endpoint: string, events: { event?: string; data: unknown }[]) {
  const reader = openai.streamReader(endpoint);
  const parser = new SseParser((_raw, e) => e && reader.push(e.event, e.data));
  const text = events.map(({ event, data }) => `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`).join('');
  // Split mid-event, as the network does.
  parser.write(text.slice(0, 37));
  parser.write(text.slice(37));
  parser.end();
  return reader;
}

const fn = (name: unknown) => ({ type: 'function', function: { name, description: 'DESCRIPTION_SECRET', parameters: { type: 'object', properties: { q: { type: 'string', description: 'DESCRIPTION_SECRET' } } } } });

describe('openai: tools a request declares', () => {
  it('chat: tools[].function.name, custom tools and legacy functions[].name', () => {
    const body = {
      model: 'gpt-4.1', messages: [{ role: 'user', content: 'PROMPT_SECRET' }],
      tools: [fn('sales_history'), fn('inventory_lookup'), { type: 'custom', custom: { name: 'sql_runner', description: 'DESCRIPTION_SECRET' } }, fn('inventory_lookup')],
      functions: [{ name: 'legacy_fn', description: 'DESCRIPTION_SECRET' }],
      tool_choice: { type: 'function', function: { name: 'sales_history' } },
    };
    const names = openai.requestTools('/chat/completions', body);
    expect(names).toEqual(['inventory_lookup', 'legacy_fn', 'sales_history', 'sql_runner']);
    expectNamesOnly(names);
  });

  it('responses: function tools by name, built-in tools by type', () => {
    const body = {
      model: 'gpt-4.1', input: 'PROMPT_SECRET',
      tools: [
        { type: 'function', name: 'promo_calendar', description: 'DESCRIPTION_SECRET', parameters: {} },
        { type: 'web_search' }, { type: 'file_search', vector_store_ids: ['vs_1'] }, { type: 'code_interpreter', container: { type: 'auto' } },
      ],
    };
    expect(openai.requestTools('/responses', body)).toEqual(['code_interpreter', 'file_search', 'promo_calendar', 'web_search']);
  });

  it('ignores malformed declarations and endpoints without tools', () => {
    const body = { model: 'm', tools: [null, 'inventory_lookup', 7, fn(42), fn('has space'), { type: 'function' }, { type: 'function', function: 'x' }, fn('ok_tool')], functions: 'nope' };
    expect(openai.requestTools('/chat/completions', body)).toEqual(['ok_tool']);
    expect(openai.requestTools('/chat/completions', { model: 'm', tools: { name: 'x' } })).toEqual([]);
    expect(openai.requestTools('/chat/completions', { model: 'm' })).toEqual([]);
    expect(openai.requestTools('/embeddings', { model: 'm', tools: [fn('x')] })).toEqual([]);
  });
});

describe('openai: tools an answer calls', () => {
  it('chat JSON: choices[].message.tool_calls[].function.name, and the legacy function_call', () => {
    const body = {
      id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4.1',
      choices: [
        { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'ANSWER_SECRET', tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'sales_history', arguments: '{"sku":"ARG_SECRET"}' } },
          { id: 'call_2', type: 'function', function: { name: 'inventory_lookup', arguments: '{}' } },
        ] } },
        { index: 1, message: { role: 'assistant', content: null, function_call: { name: 'legacy_fn', arguments: 'ARG_SECRET' } } },
      ],
    };
    const names = openai.toolsFromBody('/chat/completions', body);
    expect(names).toEqual(['inventory_lookup', 'legacy_fn', 'sales_history']);
    expectNamesOnly(names);
  });

  it('responses JSON: output items of type function_call', () => {
    const body = {
      id: 'resp_1', object: 'response', output: [
        { type: 'message', content: [{ type: 'output_text', text: 'ANSWER_SECRET' }] },
        { type: 'function_call', name: 'promo_calendar', arguments: '{"week":"ARG_SECRET"}', call_id: 'c1' },
        { type: 'web_search_call', status: 'completed' },
      ],
    };
    expect(openai.toolsFromBody('/responses', body)).toEqual(['promo_calendar']);
  });

  it('JSON bodies that are not answers yield nothing', () => {
    expect(openai.toolsFromBody('/chat/completions', undefined)).toEqual([]);
    expect(openai.toolsFromBody('/chat/completions', { error: { message: 'x' } })).toEqual([]);
    expect(openai.toolsFromBody('/chat/completions', { choices: [null, { message: { tool_calls: [{ function: { name: '{"x":1}' } }, 'x'] } }] })).toEqual([]);
    expect(openai.toolsFromBody('/responses', { output: 'nope' })).toEqual([]);
    expect(openai.toolsFromBody('/embeddings', { data: [] })).toEqual([]);
  });

  it('chat stream: the name arrives in each call\'s first delta, arguments follow without it', () => {
    const chunk = (delta: object, finish: string | null = null) => ({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4.1', choices: [{ index: 0, delta, finish_reason: finish }], usage: null });
    const reader = readStream('/chat/completions', [
      { data: chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'inventory_lookup', arguments: '' } }] }) },
      { data: chunk({ tool_calls: [{ index: 0, function: { arguments: '{"name": "ARG_SECRET"' } }] }) },
      { data: chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'sales_history', arguments: '' } }] }) },
      { data: chunk({ tool_calls: [{ index: 1, function: { arguments: '}' } }] }) },
      { data: chunk({}, 'tool_calls') },
      { data: { id: 'c', object: 'chat.completion.chunk', model: 'gpt-4.1', choices: [], usage: { prompt_tokens: 10, completion_tokens: 5 } } },
      { data: '[DONE]' },
    ]);
    expect(reader.tools()).toEqual(['inventory_lookup', 'sales_history']);
    expectNamesOnly(reader.tools());
    expect(reader.result()).toMatchObject({ complete: true, servedModel: 'gpt-4.1', usage: { input_tokens: 10, output_tokens: 5 } });
  });

  it('chat stream: text that mentions "name" and tool_calls is not a tool call', () => {
    const chunk = (delta: object) => ({ id: 'c', model: 'gpt-4.1', choices: [{ index: 0, delta }] });
    const reader = readStream('/chat/completions', [
      { data: chunk({ content: 'the "tool_calls" field has a "name": "not_a_tool"' }) },
      { data: chunk({ tool_calls: 'garbage', name: 'x' }) },
      { data: '{"tool_calls": "name", broken' },
    ]);
    expect(reader.tools()).toEqual([]);
  });

  it('responses stream: function_call items in output_item.added / .done and in the final response', () => {
    const item = { id: 'fc_1', type: 'function_call', name: 'promo_calendar', arguments: '', call_id: 'c1', status: 'in_progress' };
    const reader = readStream('/responses', [
      { event: 'response.created', data: { type: 'response.created', response: { model: 'gpt-4.1', usage: null } } },
      { event: 'response.output_item.added', data: { type: 'response.output_item.added', output_index: 0, item } },
      { event: 'response.function_call_arguments.delta', data: { type: 'response.function_call_arguments.delta', delta: 'ARG_SECRET' } },
      { event: 'response.output_item.done', data: { type: 'response.output_item.done', output_index: 0, item: { ...item, arguments: 'ARG_SECRET' } } },
      { event: 'response.output_item.added', data: { type: 'response.output_item.added', output_index: 1, item: { type: 'message', content: [] } } },
      { event: 'response.completed', data: { type: 'response.completed', response: { model: 'gpt-4.1', output: [{ type: 'function_call', name: 'sales_history' }], usage: { input_tokens: 3, output_tokens: 2 } } } },
    ]);
    expect(reader.tools()).toEqual(['promo_calendar', 'sales_history']);
    expectNamesOnly(reader.tools());
    expect(reader.result()).toMatchObject({ complete: true, servedModel: 'gpt-4.1' });
  });
});
