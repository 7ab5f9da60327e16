import crypto from 'node:crypto';
import OpenAI from 'openai';
import { Agent, OpenAIProvider, Runner, getGlobalTraceProvider, setTracingDisabled, setTracingExportApiKey, tool } from '@openai/agents';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, type Gateway } from '../helpers/gateway.js';
import { expectLedgerMatchesTally, seedAgentCatalog, tagsFor } from '../helpers/agent-catalog.js';
import { trapFetch, type FetchTrap } from '../helpers/fetch-trap.js';

/**
 * README's recipe for the OpenAI Agents SDK: one OpenAI client per run pointed at tollgate with the tags and that
 * run's session id, handed to the Runner through an OpenAIProvider, and tracing export off (else the SDK posts
 * its traces, prompts included, straight to the provider).
 */

const AGENT = 'stock-checker';
const MODEL = 'gpt-6-luna';

let gw: Gateway;
let key: string;
let trap: FetchTrap;
const lookups: string[] = [];

const inventoryLookup = tool({
  name: 'inventory_lookup',
  description: 'Units in stock for a SKU',
  parameters: z.object({ sku: z.string() }),
  execute: async ({ sku }) => {
    lookups.push(sku);
    return `SKU ${sku}: 12 units`;
  },
});
const agent = new Agent({ name: 'Stock checker', instructions: 'Answer with the stock level.', model: MODEL, tools: [inventoryLookup] });

/** The recipe: a runner whose calls go through tollgate as one session. */
function runnerFor(sessionId: string): Runner {
  const client = new OpenAI({ baseURL: `${gw.url}/openai/v1`, apiKey: key, defaultHeaders: tagHeaders(tagsFor(AGENT, sessionId)) });
  return new Runner({ modelProvider: new OpenAIProvider({ openAIClient: client }) });
}

beforeAll(async () => {
  trap = trapFetch();
  setTracingDisabled(true);
  gw = await startGateway({ TOLLGATE_SEED: 'never' });
  await seedAgentCatalog(gw, [{ id: AGENT, models: [MODEL] }]);
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

describe('OpenAI Agents SDK through tollgate', () => {
  it('runs a turn with a tool call; each run is its own session; the ledger equals the fake\'s tally', async () => {
    const session = crypto.randomUUID();
    const result = await runnerFor(session).run(agent, 'How many units of SKU 42? [call:inventory_lookup {"sku":"42"}]');
    expect(lookups).toEqual(['42']);
    expect(result.finalOutput).toEqual(expect.stringContaining('tollgate'));
    const rows = await expectLedgerMatchesTally(gw, session);
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.endpoint)).toEqual(['/responses', '/responses']);
    expect(rows[0]!.tools).toEqual(['inventory_lookup']);
    expect(trap.refused).toEqual([]);

    gw.upstream.reset();
    const next = crypto.randomUUID();
    await runnerFor(next).run(agent, '[call:inventory_lookup {"sku":"7"}]');
    expect(await expectLedgerMatchesTally(gw, next)).toHaveLength(2);
  });

  it('streams a run through tollgate', async () => {
    const session = crypto.randomUUID();
    const stream = await runnerFor(session).run(agent, '[call:inventory_lookup {"sku":"9"}]', { stream: true });
    let text = '';
    for await (const chunk of stream.toTextStream()) text += chunk;
    await stream.completed;
    expect(lookups).toEqual(['9']);
    expect(text).toContain('tollgate');
    expect(await expectLedgerMatchesTally(gw, session)).toHaveLength(2);
  });

  it('posts its traces to the provider directly when tracing export is left on (the trap sees it)', async () => {
    setTracingDisabled(false);
    setTracingExportApiKey('sk-tracing-key-from-the-environment');
    try {
      await runnerFor(crypto.randomUUID()).run(agent, 'Hello');
      await getGlobalTraceProvider().forceFlush();
    } finally {
      setTracingDisabled(true);
    }
    expect(trap.refused).toEqual(expect.arrayContaining(['https://api.openai.com/v1/traces/ingest']));
  });
});
