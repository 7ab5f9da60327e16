import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream, type UsageRecord } from '../../../src/demo/fake-upstream.js';

/** The fake answers a request that declares tools with a call of its first function tool, which the SDKs assemble. */

const OPENAI_KEY = 'sk-fake-openai';
const ANTHROPIC_KEY = 'sk-ant-fake';
const PROMPT = 'how many units of SKU 42 are in stock?'; // 38 characters → 10 tokens
const SCHEMA = { type: 'object' as const, properties: { query: { type: 'string' } } };
const CHAT_TOOLS: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'inventory_lookup', parameters: SCHEMA } },
  { type: 'function', function: { name: 'sales_history', parameters: SCHEMA } },
];
const ANTHROPIC_TOOLS: Anthropic.ToolUnion[] = [
  { type: 'web_search_20250305', name: 'web_search' },
  { name: 'inventory_lookup', input_schema: SCHEMA },
  { name: 'sales_history', input_schema: SCHEMA },
];

let up: FakeUpstream;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  up = await startFakeUpstream({ openaiKey: OPENAI_KEY, anthropicKey: ANTHROPIC_KEY });
  openai = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${up.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: up.url, maxRetries: 0 });
});
afterAll(() => up.close());
beforeEach(() => up.reset());

function onlyRecord(): UsageRecord {
  expect(up.usageLog).toHaveLength(1);
  return up.usageLog[0]!;
}

const queryOf = (args: string) => (JSON.parse(args) as { query: string }).query;

describe('fake upstream, OpenAI tool calls', () => {
  it('chat: calls the first declared function, usage as for text (finish_reason length when max_tokens cuts it)', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4.1', max_tokens: 6, messages: [{ role: 'user', content: PROMPT }], tools: CHAT_TOOLS });
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(call).toMatchObject({ type: 'function', function: { name: 'inventory_lookup' } });
    expect(call.id).toMatch(/^call_/);
    expect(queryOf((call as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function.arguments).split(' ')).toHaveLength(6);
    expect(res.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 6 });
    expect(onlyRecord().usage).toEqual({ input_tokens: 10, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 6 });
  });

  it('chat: calls the function tool_choice names; tool_choice none gets text', async () => {
    const named = await openai.chat.completions.create({
      model: 'gpt-4.1', messages: [{ role: 'user', content: PROMPT }], tools: CHAT_TOOLS,
      tool_choice: { type: 'function', function: { name: 'sales_history' } },
    });
    expect(named.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: null, tool_calls: [{ function: { name: 'sales_history' } }] } });
    const none = await openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: PROMPT }], tools: CHAT_TOOLS, tool_choice: 'none' });
    expect(none.choices[0]).toMatchObject({ finish_reason: 'stop' });
    expect(none.choices[0]!.message.tool_calls).toBeUndefined();
    expect(none.choices[0]!.message.content!.split(' ')).toHaveLength(20);
  });

  it('chat stream: id, type and name in the first delta, arguments in pieces the SDK assembles', async () => {
    const stream = openai.chat.completions.stream({ model: 'gpt-4.1', messages: [{ role: 'user', content: PROMPT }], tools: CHAT_TOOLS, stream_options: { include_usage: true } });
    const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta[] = [];
    stream.on('chunk', (chunk) => { if (chunk.choices[0]) deltas.push(chunk.choices[0].delta); });
    const final = await stream.finalChatCompletion();
    const first = deltas[0]!.tool_calls![0]!;
    expect(first).toMatchObject({ index: 0, type: 'function', function: { name: 'inventory_lookup', arguments: '' } });
    expect(first.id).toMatch(/^call_/);
    const pieces = deltas.slice(1).flatMap((d) => d.tool_calls ?? []);
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.every((p) => p.function?.name === undefined && p.id === undefined)).toBe(true);
    const call = final.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(queryOf(call.function.arguments).split(' ')).toHaveLength(20);
    expect(onlyRecord()).toMatchObject({ complete: true, usage: { input_tokens: 10, output_tokens: 20 } });
  });

  it('responses: a function_call output item, JSON and streamed', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'web_search' }, { type: 'function', name: 'promo_calendar', parameters: SCHEMA, strict: false }];
    const res = await openai.responses.create({ model: 'gpt-4.1', input: PROMPT, tools });
    expect(res.output).toEqual([expect.objectContaining({ type: 'function_call', name: 'promo_calendar', status: 'completed' })]);
    const stream = openai.responses.stream({ model: 'gpt-4.1', input: PROMPT, tools, max_output_tokens: 5 });
    const types: string[] = [];
    stream.on('event', (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(types).toContain('response.function_call_arguments.delta');
    expect(types.slice(-3)).toEqual(['response.function_call_arguments.done', 'response.output_item.done', 'response.completed']);
    const item = final.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(item.name).toBe('promo_calendar');
    expect(queryOf(item.arguments).split(' ')).toHaveLength(5);
    expect(up.usageLog.map((r) => r.usage.output_tokens)).toEqual([20, 5]);
  });
});

describe('fake upstream, Anthropic tool use', () => {
  it('messages: a tool_use block for the first client tool (server tools run at Anthropic), stop_reason tool_use', async () => {
    const res = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }], tools: ANTHROPIC_TOOLS });
    expect(res.stop_reason).toBe('tool_use');
    expect(res.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'inventory_lookup', input: { query: expect.any(String) } }]);
    expect(res.usage).toMatchObject({ input_tokens: 10, output_tokens: 20 });
    expect(onlyRecord().usage).toEqual({ input_tokens: 10, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 20 });
  });

  it('messages: tool_choice names the tool; tool_choice none gets text', async () => {
    const named = await anthropic.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }], tools: ANTHROPIC_TOOLS, tool_choice: { type: 'tool', name: 'sales_history' },
    });
    expect(named.content[0]).toMatchObject({ type: 'tool_use', name: 'sales_history' });
    const none = await anthropic.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }], tools: ANTHROPIC_TOOLS, tool_choice: { type: 'none' },
    });
    expect(none).toMatchObject({ stop_reason: 'end_turn', content: [{ type: 'text' }] });
  });

  it('streams content_block_start, input_json_delta pieces and content_block_stop, which MessageStream parses', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 7, messages: [{ role: 'user', content: PROMPT }], tools: ANTHROPIC_TOOLS });
    const events: Anthropic.MessageStreamEvent[] = [];
    stream.on('streamEvent', (event) => events.push(event));
    const final = await stream.finalMessage();
    expect(events[1]).toMatchObject({ type: 'content_block_start', content_block: { type: 'tool_use', name: 'inventory_lookup', input: {} } });
    const pieces = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.type);
    expect(pieces.length).toBeGreaterThan(2);
    expect(new Set(pieces)).toEqual(new Set(['input_json_delta']));
    expect(final.stop_reason).toBe('max_tokens');
    const block = final.content[0] as Anthropic.ToolUseBlock;
    expect((block.input as { query: string }).query.split(' ')).toHaveLength(7);
    expect(onlyRecord()).toMatchObject({ complete: true, usage: { input_tokens: 10, output_tokens: 7 } });
  });
});
