import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import type { BudgetUnit } from '../db/budgets.js';

/**
 * The demo's agents: each one works on one use case with an official SDK, one session per run. Budgets are
 * sized in calls at the fake upstream's token counts (~1,200-character prompts → 300 input tokens, 20 output
 * tokens): Sonnet ≈ $0.0012 a call, Haiku ≈ $0.0004, gpt-4.1 ≈ $0.00076, gpt-4.1-mini ≈ $0.00015. At one
 * call a second, trade promo and digital marketing reach the soft cap after ~20 s and the hard cap ~6-10 s
 * later; the others move more slowly, so that every tier shows up within a minute. Each agent declares its tools
 * (the fake upstream answers with a call of the first one, at the same token counts). The trade-promo planner and
 * the demand forecaster both declare inventory_lookup: the shared tool between two BUs' use cases that the
 * council's adjacency analysis flags (the reference trade-promo × demand-forecasting case).
 */
export type DemoAgent = {
  agent: string;
  bu: string;
  useCase: string;
  provider: 'openai' | 'anthropic';
  model: string;
  budget: { limit: string; unit: BudgetUnit };
  task: string;
  /** Names of the tools the agent declares on every call. */
  tools: readonly string[];
};

export const DEMO_AGENTS: readonly DemoAgent[] = [
  { agent: 'promo-planner', bu: 'marketing', useCase: 'trade-promo-automation', provider: 'anthropic', model: 'claude-sonnet-4-5', budget: { limit: '0.024', unit: 'usd' }, task: 'Plan the spring endcap promotion for the snacks aisle', tools: ['inventory_lookup', 'promo_calendar', 'price_elasticity'] },
  { agent: 'campaign-writer', bu: 'marketing', useCase: 'digital-marketing', provider: 'openai', model: 'gpt-4.1', budget: { limit: '0.015', unit: 'usd' }, task: 'Write three subject lines for the spring campaign email', tools: ['brand_guidelines', 'audience_segments'] },
  { agent: 'demand-forecaster', bu: 'supply-chain', useCase: 'demand-forecasting', provider: 'anthropic', model: 'claude-sonnet-4-5', budget: { limit: '0.054', unit: 'usd' }, task: 'Forecast weekly demand for salty snacks given the promo calendar', tools: ['inventory_lookup', 'sales_history', 'weather_outlook'] },
  { agent: 'inventory-optimizer', bu: 'supply-chain', useCase: 'inventory-management', provider: 'openai', model: 'gpt-4.1', budget: { limit: '14000', unit: 'tokens' }, task: 'Propose reorder points for the regional distribution centres', tools: ['warehouse_capacity', 'supplier_lead_times'] },
  { agent: 'quote-assistant', bu: 'insurance', useCase: 'underwriting-assist', provider: 'anthropic', model: 'claude-sonnet-4-5', budget: { limit: '0.1', unit: 'usd' }, task: 'Draft a quote summary for a mid-size logistics fleet policy', tools: ['policy_lookup', 'risk_score'] },
];

/** What one call did, as the agent saw it through the SDK. */
export type CallOutcome = {
  agent: DemoAgent;
  session: string;
  /** The tier tollgate reported for this call (x-tollgate-budget-tier). */
  tier: string | null;
  requested: string;
  served: string | null;
  stream: boolean;
  status: number;
  code?: string;
};

const MAX_TOKENS = 20;
const STEPS = ['gather the facts', 'draft', 'review and tighten'];
// Padding keeps every prompt near 1,200 characters, so that the costs in the comment above hold.
const CONTEXT = 'Context from earlier steps: volumes, prices, constraints and the notes of the team. '.repeat(13);

function prompt(a: DemoAgent, step: string): string {
  return `${a.task}. Step: ${step}. ${CONTEXT}`.slice(0, 1200);
}

type Client = { openai?: OpenAI; anthropic?: Anthropic };

// One small schema for every demo tool: the declarations add little to the request (and so to the reservation).
const TOOL_INPUT = { type: 'object' as const, properties: { query: { type: 'string' } }, required: ['query'] };

function openaiTools(a: DemoAgent): OpenAI.Chat.ChatCompletionTool[] {
  return a.tools.map((name) => ({ type: 'function', function: { name, parameters: TOOL_INPUT } }));
}

function anthropicTools(a: DemoAgent): Anthropic.Tool[] {
  return a.tools.map((name) => ({ name, input_schema: TOOL_INPUT }));
}

function clientFor(a: DemoAgent, key: string, gatewayUrl: string): Client {
  const defaultHeaders = { 'x-tollgate-bu': a.bu, 'x-tollgate-use-case': a.useCase, 'x-tollgate-agent-id': a.agent };
  // maxRetries 0: a hard-cap 429 is an answer, not a hiccup to retry.
  return a.provider === 'openai'
    ? { openai: new OpenAI({ apiKey: key, baseURL: `${gatewayUrl}/openai/v1`, maxRetries: 0, defaultHeaders }) }
    : { anthropic: new Anthropic({ apiKey: key, baseURL: `${gatewayUrl}/anthropic`, maxRetries: 0, defaultHeaders }) };
}

async function callOnce(c: Client, a: DemoAgent, content: string, stream: boolean, session: string): Promise<Response> {
  const headers = { 'x-tollgate-session-id': session };
  const messages = [{ role: 'user' as const, content }];
  if (c.openai) {
    const tools = openaiTools(a);
    if (!stream) return (await c.openai.chat.completions.create({ model: a.model, max_tokens: MAX_TOKENS, messages, tools }, { headers }).withResponse()).response;
    const { data, response } = await c.openai.chat.completions.create({ model: a.model, max_tokens: MAX_TOKENS, messages, tools, stream: true }, { headers }).withResponse();
    for await (const chunk of data) void chunk;
    return response;
  }
  const anthropic = c.anthropic!;
  const tools = anthropicTools(a);
  if (!stream) return (await anthropic.messages.create({ model: a.model, max_tokens: MAX_TOKENS, messages, tools }, { headers }).withResponse()).response;
  const { data, response } = await anthropic.messages.create({ model: a.model, max_tokens: MAX_TOKENS, messages, tools, stream: true }, { headers }).withResponse();
  for await (const event of data) void event;
  return response;
}

type Answer = { status: number | undefined; headers: Headers | undefined };

function outcomeOf(a: DemoAgent, session: string, stream: boolean, res: Answer): CallOutcome {
  const status = res.status ?? 0;
  return {
    agent: a, session, stream, status,
    tier: res.headers?.get('x-tollgate-budget-tier') ?? null,
    requested: a.model,
    served: status > 0 && status < 300 ? (res.headers?.get('x-tollgate-model-served') ?? null) : null,
    code: res.headers?.get('x-tollgate-error-code') ?? (status === 0 ? 'connection_error' : undefined),
  };
}

// Connection errors are APIErrors too, without a status or headers.
function isApiError(err: unknown): err is Answer {
  return err instanceof OpenAI.APIError || err instanceof Anthropic.APIError;
}

export type AgentLoop = { intervalMs: number; backoffMs: number; signal: AbortSignal; onCall(o: CallOutcome): void };

/** Runs `a` until `signal` aborts: runs of up to three calls in one session, every other call streamed. */
export async function runAgent(a: DemoAgent, key: string, gatewayUrl: string, loop: AgentLoop): Promise<void> {
  const client = clientFor(a, key, gatewayUrl);
  let calls = 0;
  for (let run = 1; !loop.signal.aborted; run++) {
    const session = `${a.agent}-run-${run}`;
    for (const step of STEPS) {
      if (loop.signal.aborted) return;
      const stream = calls++ % 2 === 1;
      let pause = loop.intervalMs * (0.75 + Math.random() / 2);
      try {
        loop.onCall(outcomeOf(a, session, stream, await callOnce(client, a, prompt(a, step), stream, session)));
      } catch (err) {
        if (!isApiError(err)) throw err;
        loop.onCall(outcomeOf(a, session, stream, err));
        pause = loop.backoffMs;
      }
      await sleep(pause, undefined, { signal: loop.signal }).catch(() => undefined);
    }
  }
}
