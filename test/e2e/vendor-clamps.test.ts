import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { useCaseSpentTo } from '../helpers/ledger.js';

/**
 * Clamping on the cloud vendors' routes (issue "One gateway across vendors": tiers on every vendor): near a hard
 * cap a call's output limit is lowered to what fits, in the field the vendor reads, and the vendor takes the call.
 * Azure's reasoning-era field (max_completion_tokens) is clamped where it was set, never doubled by a max_tokens
 * Azure would refuse beside it; Gemini's maxOutputTokens is nested in generationConfig. Bedrock's and Vertex AI's
 * clamps (extended thinking included) are in their own tests.
 */

/** A token budget of 10,000: its hard cap is 11,000. */
const LIMIT = 10_000;
let gw: Gateway;
let key: string;
let seq = 0;

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.key(WRITER.agent_id);
  await gw.allow(WRITER.agent_id, ['gemini/gemini-2.5-flash']);
});
afterAll(async () => gw?.close());

/** A new use case of the writer with a LIMIT-token budget, `spent` of it already in the ledger; its tags. */
const spendTo = (spent: number): Promise<Tags> => useCaseSpentTo(gw, WRITER, { name: `vendor-clamp-${++seq}`, useCaseClass: 'demand-shaping', limit: LIMIT, spent });

describe('a clamp near the hard cap keeps the call valid for the vendor', () => {
  it('Azure: lowers max_completion_tokens where the agent set it, adds no max_tokens, and Azure serves the call', async () => {
    // 9,000 of 11,000 spent: room for about 2,000 output tokens, less than the 8,192 asked.
    const tags = await spendTo(9_000);
    const { data, response } = await gw.azure(key, tags).chat.completions
      .create({ model: 'gpt-4.1-mini', max_completion_tokens: 8192, messages: [{ role: 'user', content: 'draft the campaign brief' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    const clamp = Number(response.headers.get('x-tollgate-output-clamped'));
    expect(clamp).toBeGreaterThan(1000);
    expect(clamp).toBeLessThan(2048);
    const sent = gw.upstream.requests.at(-1)!;
    expect(sent.path).toBe('/openai/deployments/gpt-4.1-mini/chat/completions');
    expect(sent.body).toMatchObject({ max_completion_tokens: clamp });
    expect(sent.body).not.toHaveProperty('max_tokens');
    expect(gw.upstream.usageLog.at(-1)).toMatchObject({ provider: 'azure', status: 200 });
  });

  it('Gemini API: lowers generationConfig.maxOutputTokens, keeps the rest of the config, and Gemini serves the call', async () => {
    const tags = await spendTo(9_000);
    const answer = await gw.gemini(key, tags).models.generateContent({
      model: 'gemini-2.5-flash', contents: '[think] draft the campaign brief', config: { maxOutputTokens: 8192, temperature: 0.3 },
    });
    expect(answer.text).toBeTruthy();
    const clamp = Number(answer.sdkHttpResponse!.headers!['x-tollgate-output-clamped']);
    expect(clamp).toBeGreaterThan(1000);
    expect(clamp).toBeLessThan(2048);
    const sent = gw.upstream.requests.at(-1)!.body as { generationConfig: Record<string, unknown> };
    expect(sent.generationConfig).toMatchObject({ maxOutputTokens: clamp, temperature: 0.3 });
    expect(gw.upstream.usageLog.at(-1)).toMatchObject({ provider: 'gemini', status: 200 });
  });

  it('refuses with the budget code, nothing forwarded, when not one output token fits (Azure and Gemini shapes)', async () => {
    const azureTags = await spendTo(11_000);
    const before = gw.upstream.requests.length;
    const azureError = await gw.azure(key, azureTags).chat.completions
      .create({ model: 'gpt-4.1-mini', max_completion_tokens: 64, messages: [{ role: 'user', content: 'one more' }] })
      .catch((e: unknown) => e as { status: number; code: string });
    expect(azureError).toMatchObject({ status: 429, code: 'budget_exhausted' });
    const geminiTags = await spendTo(11_000);
    const geminiError = (await gw.gemini(key, geminiTags).models
      .generateContent({ model: 'gemini-2.5-flash', contents: 'one more', config: { maxOutputTokens: 64 } })
      .catch((e: unknown) => e)) as { status: number; message: string };
    expect(geminiError.status).toBe(429);
    expect(JSON.parse(geminiError.message)).toMatchObject({ error: { status: 'RESOURCE_EXHAUSTED', details: expect.arrayContaining([expect.objectContaining({ reason: 'budget_exhausted' })]) } });
    expect(gw.upstream.requests.length).toBe(before);
  });
});
