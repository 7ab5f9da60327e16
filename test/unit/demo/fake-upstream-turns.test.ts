import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../../src/demo/fake-upstream.js';
import { callDirectives } from '../../../src/demo/fake-upstream/turn.js';

/**
 * The fake runs an agent's turn to its end: `[call:NAME {json}]` directives script the calls one per request, a
 * request that brings tool results gets text, and Codex's way of declaring tools (namespaces, freeform tools,
 * `additional_tools` input items, subagent tasks in `agent_message`) is understood.
 */

const OPENAI_KEY = 'sk-fake-openai';
const ANTHROPIC_KEY = 'sk-ant-fake';
const SCHEMA = { type: 'object' as const, properties: { command: { type: 'string' } } };
const ANTHROPIC_TOOLS: Anthropic.Tool[] = [{ name: 'Agent', input_schema: SCHEMA }, { name: 'Bash', input_schema: SCHEMA }];

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

describe('call directives', () => {
  it('reads objects and strings in order, nested quotes included, and skips what is not JSON', () => {
    const text = 'first [call:Bash {"command":"echo \\"}]\\""}] then [call:exec "text(\\"a]\\")"] [call:Bad {oops}] [call:Nope]';
    expect(callDirectives(text)).toEqual([
      { name: 'Bash', input: { command: 'echo "}]"' } },
      { name: 'exec', input: 'text("a]")' },
    ]);
  });

  it('does not read a directive nested, escaped, inside another one\'s arguments', () => {
    const outer = `[call:Agent ${JSON.stringify({ prompt: '[call:Bash {"command":"ls"}]' })}]`;
    expect(callDirectives(outer)).toEqual([{ name: 'Agent', input: { prompt: '[call:Bash {"command":"ls"}]' } }]);
  });
});

describe('Anthropic turns', () => {
  const ask = (messages: Anthropic.MessageParam[]) =>
    anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, tools: ANTHROPIC_TOOLS, messages });

  it('makes the scripted calls one per request with their exact arguments, then answers in text', async () => {
    const prompt = 'Do it. [call:Bash {"command":"ls > a.txt"}] [call:Bash {"command":"wc -l a.txt"}]';
    const first = await ask([{ role: 'user', content: prompt }]);
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content[0]).toMatchObject({ type: 'tool_use', name: 'Bash', input: { command: 'ls > a.txt' } });
    const toolUse = first.content[0] as Anthropic.ToolUseBlock;
    const after = (id: string): Anthropic.MessageParam[] => [
      { role: 'assistant', content: [{ type: 'tool_use', id, name: 'Bash', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'ok' }, { type: 'text', text: '<system-reminder>x</system-reminder>' }] },
    ];
    const second = await ask([{ role: 'user', content: prompt }, ...after(toolUse.id)]);
    expect(second.content[0]).toMatchObject({ type: 'tool_use', input: { command: 'wc -l a.txt' } });
    const third = await ask([{ role: 'user', content: prompt }, ...after(toolUse.id), ...after('toolu_2')]);
    expect(third.stop_reason).toBe('end_turn');
    expect(third.content[0]?.type).toBe('text');
    // Scripted arguments bill like any tool call: one output token per reply word.
    expect(up.usageLog.map((r) => r.usage.output_tokens)).toEqual([20, 20, 20]);
  });

  it('streams scripted arguments in pieces the SDK assembles', async () => {
    const input = { command: 'printf "%s\\n" tollgate', description: 'Print a word' };
    const stream = anthropic.messages.stream({
      model: 'claude-haiku-4-5', max_tokens: 5, tools: ANTHROPIC_TOOLS, messages: [{ role: 'user', content: `[call:Bash ${JSON.stringify(input)}]` }],
    });
    const message = await stream.finalMessage();
    expect(message.content[0]).toMatchObject({ type: 'tool_use', name: 'Bash', input });
    expect(message.usage.output_tokens).toBe(5);
  });

  it('without a directive calls the first tool once and answers its result in text (regression: agent loops never ended)', async () => {
    const first = await ask([{ role: 'user', content: 'list the files' }]);
    expect(first.content[0]).toMatchObject({ type: 'tool_use', name: 'Agent' });
    const second = await ask([
      { role: 'user', content: 'list the files' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Agent', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'error' }] },
    ]);
    expect(second.content[0]?.type).toBe('text');
  });

  it('answers a scripted turn whose directives name no declared tool in text', async () => {
    const res = await ask([{ role: 'user', content: '[call:Glob {"pattern":"*"}]' }]);
    expect(res.content[0]?.type).toBe('text');
  });
});

describe('OpenAI turns', () => {
  const namespaced = [
    { type: 'namespace', name: 'functions', tools: [{ type: 'custom', name: 'exec' }, { type: 'function', name: 'wait', parameters: SCHEMA }] },
    { type: 'namespace', name: 'collaboration', tools: [{ type: 'function', name: 'spawn_agent', parameters: SCHEMA }] },
  ];
  const codexInput = (...turns: object[]) => [{ type: 'additional_tools', role: 'developer', tools: namespaced }, ...turns];
  const post = async (body: object) => {
    const res = await fetch(`${up.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as { output: Record<string, unknown>[] };
  };

  it('chat: a tool message after the call gets text', async () => {
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup', parameters: SCHEMA } }];
    const first = await openai.chat.completions.create({ model: 'gpt-4.1', tools, messages: [{ role: 'user', content: '[call:lookup {"command":"x"}]' }] });
    const call = first.choices[0]!.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(JSON.parse(call.function.arguments)).toEqual({ command: 'x' });
    const second = await openai.chat.completions.create({
      model: 'gpt-4.1', tools,
      messages: [{ role: 'user', content: '[call:lookup {"command":"x"}]' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '42' }],
    });
    expect(second.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: expect.any(String) } });
  });

  it('responses: finds tools declared in additional_tools namespaces and calls a freeform tool with text', async () => {
    const body = { model: 'gpt-6.2-sol', input: codexInput({ role: 'user', content: [{ type: 'input_text', text: '[call:exec "text(1)"]' }] }) };
    const res = await post(body);
    expect(res.output[0]).toMatchObject({ type: 'custom_tool_call', name: 'exec', input: 'text(1)', namespace: 'functions' });
    const done = await post({ ...body, input: [...body.input, res.output[0], { type: 'custom_tool_call_output', call_id: res.output[0]!.call_id, output: '1' }] });
    expect(done.output[0]).toMatchObject({ type: 'message' });
  });

  it('responses: streams a custom tool call as custom_tool_call_input deltas', async () => {
    const stream = openai.responses.stream({
      model: 'gpt-5.5', tools: [{ type: 'custom', name: 'apply_patch' }],
      input: [{ role: 'user', content: '[call:apply_patch "*** Begin Patch\\n*** End Patch"]' }],
    });
    const types: string[] = [];
    stream.on('event', (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(final.output[0]).toMatchObject({ type: 'custom_tool_call', name: 'apply_patch', input: '*** Begin Patch\n*** End Patch' });
    expect(types).toContain('response.custom_tool_call_input.delta');
    expect(types).toContain('response.custom_tool_call_input.done');
  });

  it('responses: a subagent\'s task in an agent_message is its user turn; the parent\'s turn after its report gets text', async () => {
    const task = { type: 'agent_message', author: '/root', recipient: '/root/a', content: [{ type: 'input_text', text: 'Payload:' }, { type: 'encrypted_content', encrypted_content: '[call:wait {"command":"go"}]' }] };
    const child = await post({ model: 'gpt-6.2-sol', input: codexInput(task) });
    expect(child.output[0]).toMatchObject({ type: 'function_call', name: 'wait', arguments: '{"command":"go"}' });
    const parent = await post({
      model: 'gpt-6.2-sol',
      input: codexInput(
        { role: 'user', content: '[call:spawn_agent {"command":"a"}]' },
        { type: 'function_call', name: 'spawn_agent', namespace: 'collaboration', call_id: 'c1', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: '{}' },
        { type: 'agent_message', author: '/root/a', recipient: '/root', content: [{ type: 'input_text', text: 'FINAL_ANSWER' }] },
      ),
    });
    expect(parent.output[0]).toMatchObject({ type: 'message' });
  });

  it('responses: a namespaced function call names its namespace', async () => {
    const res = await post({ model: 'gpt-6.2-sol', input: codexInput({ role: 'user', content: '[call:spawn_agent {"command":"a"}]' }) });
    expect(res.output[0]).toMatchObject({ type: 'function_call', name: 'spawn_agent', namespace: 'collaboration' });
  });
});
