import crypto from 'node:crypto';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, type Gateway } from '../helpers/gateway.js';
import { expectLedgerMatchesTally, seedAgentCatalog, tagsFor } from '../helpers/agent-catalog.js';
import { trapFetch, type FetchTrap } from '../helpers/fetch-trap.js';

/**
 * README's recipe for the Vercel AI SDK: provider instances (@ai-sdk/openai, @ai-sdk/anthropic) made with
 * tollgate's base URL, a tollgate key and the tags, each call's session id in its own headers. A bare model id
 * string instead of a provider instance goes to the AI SDK's default provider, a hosted gateway, around tollgate.
 */

const AGENT = 'ai-sdk-agent';
const TAGS = tagsFor(AGENT, 'unused');

let gw: Gateway;
let key: string;
let trap: FetchTrap;
const lookups: string[] = [];

const tools = {
  inventory_lookup: tool({
    description: 'Units in stock for a SKU',
    inputSchema: z.object({ sku: z.string() }),
    execute: async ({ sku }) => {
      lookups.push(sku);
      return `SKU ${sku}: 12 units`;
    },
  }),
};

/** Every tag but the session id, which each run sends with its calls. */
function providerHeaders(): Record<string, string> {
  const { 'x-tollgate-session-id': _session, ...rest } = tagHeaders(TAGS);
  return rest;
}

beforeAll(async () => {
  trap = trapFetch();
  gw = await startGateway({ TOLLGATE_SEED: 'never' });
  await seedAgentCatalog(gw, [{ id: AGENT, models: ['gpt-6-luna', 'claude-haiku-5-5'] }]);
  key = await gw.key(AGENT);
});
afterAll(async () => {
  trap?.restore();
  await gw?.close();
});
beforeEach(() => {
  gw.upstream.reset();
  lookups.length = 0;
});

describe('Vercel AI SDK through tollgate', () => {
  it('@ai-sdk/openai: a turn with a tool call (Responses API); the ledger equals the fake\'s tally', async () => {
    const openai = createOpenAI({ baseURL: `${gw.url}/openai/v1`, apiKey: key, headers: providerHeaders() });
    const session = crypto.randomUUID();
    const result = await generateText({
      model: openai('gpt-6-luna'), tools, stopWhen: stepCountIs(3),
      prompt: 'How many units of SKU 42? [call:inventory_lookup {"sku":"42"}]',
      headers: { 'x-tollgate-session-id': session },
    });
    expect(lookups).toEqual(['42']);
    expect(result.text).toContain('tollgate');
    const rows = await expectLedgerMatchesTally(gw, session);
    expect(rows.map((r) => r.endpoint)).toEqual(['/responses', '/responses']);
    expect(trap.refused).toEqual([]);
  });

  it('@ai-sdk/anthropic: a streamed turn with a tool call; the ledger equals the fake\'s tally', async () => {
    const anthropic = createAnthropic({ baseURL: `${gw.url}/anthropic/v1`, apiKey: key, headers: providerHeaders() });
    const session = crypto.randomUUID();
    const result = streamText({
      model: anthropic('claude-haiku-5-5'), tools, stopWhen: stepCountIs(3), maxOutputTokens: 256,
      prompt: '[call:inventory_lookup {"sku":"7"}]',
      headers: { 'x-tollgate-session-id': session },
    });
    expect(await result.text).toContain('tollgate');
    expect(lookups).toEqual(['7']);
    const rows = await expectLedgerMatchesTally(gw, session);
    expect(rows.map((r) => r.endpoint)).toEqual(['/messages', '/messages']);
    expect(trap.refused).toEqual([]);
  });

  it('sends a bare model id string to its default hosted gateway, around tollgate (the trap sees it)', async () => {
    // With the hosted gateway's key in the environment (without one it throws before sending).
    process.env.AI_GATEWAY_API_KEY = 'gateway-key-from-the-environment';
    try {
      await expect(generateText({ model: 'openai/gpt-6-luna', prompt: 'Hello' })).rejects.toThrow();
    } finally {
      delete process.env.AI_GATEWAY_API_KEY;
    }
    expect(trap.refused.some((url) => new URL(url).hostname.endsWith('vercel.sh')), trap.refused.join('\n')).toBe(true);
    expect(gw.upstream.requests).toHaveLength(0);
  });
});
