import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type OpenAI from 'openai';
import type Anthropic from '@anthropic-ai/sdk';
import { startGateway, PROMO, FORECASTER, WRITER, type Gateway } from '../helpers/gateway.js';

/**
 * Tool names through tollgate with the official SDKs: the ledger row keeps the sorted names the call declared
 * or its answer called (never arguments, descriptions or text), and tool_usage_daily counts them per day.
 */

const PROMPT_MARKER = 'PROMPT-MARKER-7f3a';
const DESCRIPTION_MARKER = 'DESCRIPTION-MARKER-91bc';
const SCHEMA = { type: 'object' as const, properties: { query: { type: 'string', description: DESCRIPTION_MARKER } } };

const chatTool = (name: string): OpenAI.Chat.ChatCompletionTool => ({ type: 'function', function: { name, description: DESCRIPTION_MARKER, parameters: SCHEMA } });
const anthropicTool = (name: string): Anthropic.Tool => ({ name, description: DESCRIPTION_MARKER, input_schema: SCHEMA });
const prompt = (what: string) => [{ role: 'user' as const, content: `${PROMPT_MARKER} ${what}` }];

let gw: Gateway;
let keys: Record<string, string>;

beforeAll(async () => {
  // A call in flight reaches inflight_calls, where its fallback is read here, at the first flush rather than after
  // TOLLGATE_INFLIGHT_GRACE_MS (src/metering/inflight-hold.ts).
  gw = await startGateway({ TOLLGATE_INFLIGHT_GRACE_MS: 0 });
  keys = { writer: await gw.key('campaign-writer'), promo: await gw.key('promo-planner'), forecaster: await gw.key('demand-forecaster') };
});
afterAll(async () => gw?.close());

/** The ledger row of the call, checked to hold tool names and nothing of the call's text or arguments. */
async function toolsOf(response: Response, argumentText: string): Promise<string[] | null> {
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', response.headers.get('x-tollgate-request-id')!);
  expect(rows).toHaveLength(1);
  const text = JSON.stringify(rows[0]);
  expect(argumentText.length).toBeGreaterThan(10);
  for (const secret of [PROMPT_MARKER, DESCRIPTION_MARKER, argumentText, '"query"']) expect(text).not.toContain(secret);
  expect(rows[0].status).toBe(200);
  return rows[0].tools as string[] | null;
}

describe('tool names with the OpenAI SDK', () => {
  it('chat: the declared names, including the one the answer called', async () => {
    const client = gw.openai(keys.writer!, WRITER);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: prompt('look up stock'), tools: [chatTool('sales_history'), chatTool('inventory_lookup')] })
      .withResponse();
    const call = data.choices[0]!.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('sales_history');
    expect(await toolsOf(response, call.function.arguments)).toEqual(['inventory_lookup', 'sales_history']);
  });

  it('chat stream: a tool the answer called that the request did not declare is recorded too', async () => {
    const client = gw.openai(keys.writer!, WRITER);
    const { data: stream, response } = await client.chat.completions.create({
      model: 'gpt-4.1-mini', messages: prompt('look up stock'), tools: [chatTool('brand_guidelines')],
      tool_choice: { type: 'function', function: { name: 'audience_segments' } }, stream: true,
    }).withResponse();
    let name = '';
    let args = '';
    for await (const chunk of stream) {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      name += call?.function?.name ?? '';
      args += call?.function?.arguments ?? '';
    }
    expect(name).toBe('audience_segments');
    expect(await toolsOf(response, args)).toEqual(['audience_segments', 'brand_guidelines']);
  });

  it('responses, JSON and streamed: function tools by name, built-in tools by type', async () => {
    const client = gw.openai(keys.writer!, WRITER);
    const tools: OpenAI.Responses.Tool[] = [
      { type: 'function', name: 'promo_calendar', description: DESCRIPTION_MARKER, parameters: SCHEMA, strict: false },
      { type: 'web_search' },
    ];
    const { data, response } = await client.responses.create({ model: 'gpt-4.1', input: `${PROMPT_MARKER} plan`, tools }).withResponse();
    const item = data.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(await toolsOf(response, item.arguments)).toEqual(['promo_calendar', 'web_search']);

    const { data: stream, response: streamed } = await client.responses
      .create({ model: 'gpt-4.1', input: `${PROMPT_MARKER} plan`, tools, stream: true }).withResponse();
    let args = '';
    for await (const event of stream) if (event.type === 'response.function_call_arguments.done') args = event.arguments;
    expect(await toolsOf(streamed, args)).toEqual(['promo_calendar', 'web_search']);
  });

  it('a call without tools keeps null', async () => {
    const client = gw.openai(keys.writer!, WRITER);
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4.1', messages: prompt('a tagline') }).withResponse();
    expect(await toolsOf(response, data.choices[0]!.message.content!)).toBeNull();
  });
});

describe('tool names with the Anthropic SDK', () => {
  it('messages: client and server tools by name', async () => {
    const client = gw.anthropic(keys.promo!, PROMO);
    const tools: Anthropic.ToolUnion[] = [anthropicTool('promo_calendar'), anthropicTool('inventory_lookup'), { type: 'web_search_20250305', name: 'web_search' }];
    const { data, response } = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: prompt('plan'), tools }).withResponse();
    const block = data.content[0] as Anthropic.ToolUseBlock;
    expect(block).toMatchObject({ type: 'tool_use', name: 'promo_calendar' });
    expect(await toolsOf(response, JSON.stringify(block.input).slice(10, -2))).toEqual(['inventory_lookup', 'promo_calendar', 'web_search']);
  });

  it('messages stream: the tool_use block\'s name, from content_block_start', async () => {
    const client = gw.anthropic(keys.forecaster!, FORECASTER);
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5', max_tokens: 50, messages: prompt('forecast'),
      tools: [anthropicTool('inventory_lookup')], tool_choice: { type: 'tool', name: 'sales_history' },
    });
    const final = await stream.finalMessage();
    const block = final.content[0] as Anthropic.ToolUseBlock;
    expect(block.name).toBe('sales_history');
    const { response } = await stream.withResponse();
    expect(await toolsOf(response, JSON.stringify(block.input).slice(10, -2))).toEqual(['inventory_lookup', 'sales_history']);
  });
});

describe('tool_usage_daily', () => {
  it('counts, per day, BU, use case and tool, the calls of the ledger that named the tool', async () => {
    await gw.flush();
    const db = gw.app.tollgate.db;
    const fromLedger = (await db.raw(`
      select (ts at time zone 'UTC')::date::text as day, bu_id, use_case_id, t.tool, count(*)::int as calls
      from usage_events cross join lateral unnest(tools) as t(tool)
      group by 1, 2, 3, 4 order by 1, 3, 4, 2`)) as { rows: unknown[] };
    const daily = await db('tool_usage_daily')
      .select(db.raw('day::text as day'), 'bu_id', 'use_case_id', 'tool', db.raw('calls::int as calls'))
      .orderBy(['day', 'use_case_id', 'tool', 'bu_id']);
    expect(daily).toEqual(fromLedger.rows);
    const today = new Date().toISOString().slice(0, 10);
    const calls = (useCase: string, tool: string) => daily.find((r) => r.use_case_id === useCase && r.tool === tool)?.calls;
    // Unless the run straddles midnight UTC, the counts are the calls above.
    if (daily.every((r) => r.day === today)) {
      expect(calls('digital-marketing', 'promo_calendar')).toBe(2);
      expect(calls('digital-marketing', 'sales_history')).toBe(1);
      expect(calls('trade-promo-automation', 'inventory_lookup')).toBe(1);
      expect(calls('demand-forecasting', 'inventory_lookup')).toBe(1);
      expect(calls('demand-forecasting', 'sales_history')).toBe(1);
    }
    // digital-marketing 6 tools, trade-promo-automation 3, demand-forecasting 2.
    expect(daily.length).toBe(11);
  });
});

describe('a call in flight', () => {
  it('carries the names its request declared in the fallback event kept in case its gateway dies', async () => {
    gw.upstream.script({ fault: 'hang', path: '/v1/messages' });
    const seen = gw.upstream.requests.length;
    const abort = new AbortController();
    const client = gw.anthropic(keys.forecaster!, FORECASTER);
    const pending = client.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: prompt('forecast'), tools: [anthropicTool('weather_outlook'), anthropicTool('sales_history')] }, { signal: abort.signal })
      .catch((err: unknown) => err);
    await vi.waitFor(() => expect(gw.upstream.requests.length).toBe(seen + 1));
    await gw.flush();
    const rows = (await gw.app.tollgate.db('inflight_calls').select('fallback')) as { fallback: unknown }[];
    expect(rows).toHaveLength(1);
    const fallback = (typeof rows[0]!.fallback === 'string' ? JSON.parse(rows[0]!.fallback) : rows[0]!.fallback) as { tools?: string[] };
    expect(fallback.tools).toEqual(['sales_history', 'weather_outlook']);
    expect(JSON.stringify(fallback)).not.toContain(DESCRIPTION_MARKER);
    abort.abort();
    await pending;
  });
});
