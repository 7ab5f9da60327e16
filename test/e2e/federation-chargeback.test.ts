import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { startGateway, PROMO, type Gateway } from '../helpers/gateway.js';
import { expectedCost, normalizeDecimal } from '../helpers/expect-cost.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import type { UsageRecord } from '../../src/demo/fake-upstream.js';

/**
 * One use case spending through all six routes (OpenAI, Anthropic, Azure OpenAI, Amazon Bedrock, Vertex AI, the
 * Gemini API), streaming and not, shows one chargeback whose per-vendor rows and total equal the fake upstream's
 * tally, priced at each vendor's price, to the last decimal.
 */

let gw: Gateway;
let key: string;

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.key(PROMO.agent_id);
  await gw.allow(PROMO.agent_id, [
    'gemini/gemini-2.5-flash', 'gemini/gemini-2.5-flash-lite', 'bedrock/claude-sonnet-4-5', 'bedrock/claude-haiku-4-5',
    'vertex/gemini-2.5-flash', 'vertex/claude-haiku-4-5',
  ]);
});
afterAll(async () => gw?.close());

/** The catalog model of each vendor id the calls below use, as seeds/catalog.json maps them. */
const VENDOR_MODELS: Readonly<Record<string, string>> = {
  'bedrock anthropic.claude-haiku-4-5-20251001-v1:0': 'bedrock/claude-haiku-4-5',
  'bedrock us.anthropic.claude-sonnet-4-5-20250929-v1:0': 'bedrock/claude-sonnet-4-5',
  'vertex gemini-2.5-flash': 'vertex/gemini-2.5-flash',
  'vertex claude-haiku-4-5@20251001': 'vertex/claude-haiku-4-5',
};

/** The catalog model each fake record was served as (the fake names Azure's deployment and the vendor's own id). */
function catalogModel(r: UsageRecord): string {
  if (r.provider === 'azure') return `azure/${String(r.model)}`;
  if (r.provider === 'gemini') return `gemini/${String(r.model)}`;
  if (r.provider === 'bedrock' || r.provider === 'vertex') return VENDOR_MODELS[`${r.provider} ${String(r.model)}`]!;
  return String(r.model);
}

const pico = (decimal: string): bigint => {
  const [i, f = ''] = decimal.split('.');
  return BigInt(i!) * 10n ** 12n + BigInt((f + '0'.repeat(12)).slice(0, 12));
};
const decimal = (p: bigint): string => normalizeDecimal(`${p / 10n ** 12n}.${(p % 10n ** 12n).toString().padStart(12, '0')}`);

async function chargeback(): Promise<{ rows: { key: { provider: string }; calls: string; inputTokens: string; cachedInputTokens: string; outputTokens: string; cost: string }[]; totals: { calls: string; cost: string } }> {
  const t = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'finance' });
  const period = new Date().toISOString().slice(0, 7);
  const fields = 'calls inputTokens cachedInputTokens outputTokens cost';
  const res = await gw.app.inject({
    method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${t.token}` },
    payload: { query: `{ chargeback(period: "${period}", groupBy: [PROVIDER], filter: { useCase: "${PROMO.use_case}" }) { rows { key { provider } ${fields} } totals { ${fields} } } }` },
  });
  const body = res.json() as { data: { chargeback: Awaited<ReturnType<typeof chargeback>> }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data.chargeback;
}

it('charges one use case back across OpenAI, Anthropic, Azure OpenAI, Bedrock, Vertex AI and Gemini, per vendor and in total, as the fakes billed', async () => {
  const messages = [{ role: 'user' as const, content: '[cache] plan the spring promotion for the northern region' }];
  await gw.openai(key, PROMO).chat.completions.create({ model: 'gpt-4.1-mini', messages });
  await gw.anthropic(key, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 32, messages });
  const azure = gw.azure(key, PROMO);
  await azure.chat.completions.create({ model: 'gpt-4.1-mini', messages });
  for await (const chunk of await azure.chat.completions.create({ model: 'gpt-4.1-mini', messages, stream: true })) void chunk;
  const gemini = gw.gemini(key, PROMO);
  await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: '[think] [cache] plan the spring promotion' });
  for await (const chunk of await gemini.models.generateContentStream({ model: 'gemini-2.5-flash-lite', contents: 'and the autumn one' })) void chunk;
  const bedrock = gw.bedrock(key, PROMO);
  const content = [{ text: '[cache] plan the spring promotion for the northern region' }];
  await bedrock.send(new ConverseCommand({ modelId: 'anthropic.claude-haiku-4-5-20251001-v1:0', messages: [{ role: 'user', content }], inferenceConfig: { maxTokens: 32 } }));
  const converse = await bedrock.send(new ConverseStreamCommand({ modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', messages: [{ role: 'user', content }] }));
  for await (const event of converse.stream!) void event;
  await gw.anthropicBedrock(key, PROMO).messages.create({ model: 'anthropic.claude-haiku-4-5-20251001-v1:0', max_tokens: 32, messages });
  await gw.vertexGenai(key, PROMO).models.generateContent({ model: 'gemini-2.5-flash', contents: '[think] [cache] plan the spring promotion' });
  for await (const event of await gw.vertexAnthropic(key, PROMO).messages.create({ model: 'claude-haiku-4-5@20251001', max_tokens: 32, messages, stream: true })) void event;
  await gw.flush();

  const billed = gw.upstream.usageLog;
  expect(billed.every((r) => r.status === 200 && r.complete)).toBe(true);
  const expected = new Map<string, { calls: number; input: number; cached: number; output: number; cost: bigint }>();
  for (const r of billed) {
    const e = expected.get(r.provider) ?? { calls: 0, input: 0, cached: 0, output: 0, cost: 0n };
    expected.set(r.provider, {
      calls: e.calls + 1, input: e.input + r.usage.input_tokens, cached: e.cached + r.usage.cached_input_tokens,
      output: e.output + r.usage.output_tokens, cost: e.cost + pico(expectedCost(r.usage, catalogModel(r))),
    });
  }
  const VENDORS = ['anthropic', 'azure', 'bedrock', 'gemini', 'openai', 'vertex'];
  expect([...expected.keys()].sort()).toEqual(VENDORS);
  expect(billed.filter((r) => r.stream).map((r) => r.provider).sort()).toEqual(['azure', 'bedrock', 'gemini', 'vertex']);

  const report = await chargeback();
  const rows = Object.fromEntries(report.rows.map((row) => [row.key.provider, row]));
  expect(Object.keys(rows).sort()).toEqual(VENDORS);
  for (const [provider, e] of expected) {
    expect({ provider, ...rows[provider], cost: normalizeDecimal(rows[provider]!.cost) }).toMatchObject({
      provider, calls: String(e.calls), inputTokens: String(e.input), cachedInputTokens: String(e.cached), outputTokens: String(e.output), cost: decimal(e.cost),
    });
  }
  const total = [...expected.values()].reduce((sum, e) => sum + e.cost, 0n);
  expect(normalizeDecimal(report.totals.cost)).toBe(decimal(total));
  expect(report.totals.calls).toBe(String(billed.length));
});
