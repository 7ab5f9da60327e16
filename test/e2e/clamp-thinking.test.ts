import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, FORECASTER, type Gateway } from '../helpers/gateway.js';
import { useCaseSpentTo } from '../helpers/ledger.js';

/**
 * Issue "The chokepoint at proxy speed", clamping that keeps the request valid: Claude Code's calls near a cap
 * (max_tokens 4096 with extended thinking on a budget of 2048) were clamped to max_tokens 1000, and Anthropic
 * refused them (max_tokens must be greater than thinking.budget_tokens): a call tollgate allowed failed. Now a
 * clamp lowers the thinking budget below the new max_tokens, and a budget with room for less than the least
 * thinking budget (1,024) plus one token refuses the call with the budget's code. The fake upstream refuses
 * what Anthropic refuses (src/demo/fake-upstream/anthropic.ts).
 */

/** A token budget of 10,000: its hard cap is 11,000. */
const LIMIT = 10_000;
let gw: Gateway;
let key: string;
let seq = 0;

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.key(FORECASTER.agent_id);
});
afterAll(async () => gw?.close());

/** A use-case budget of LIMIT tokens with `spent` of them already in the ledger, nothing else in flight. */
async function spendTo(spent: number): Promise<void> {
  tags = await useCaseSpentTo(gw, FORECASTER, { name: `thinking-${++seq}`, useCaseClass: 'demand-planning', limit: LIMIT, spent });
}
let tags = FORECASTER;

function client(): Anthropic {
  return gw.anthropic(key, tags);
}

const request = {
  model: 'claude-haiku-4-5', max_tokens: 4096, thinking: { type: 'enabled' as const, budget_tokens: 2048 },
  messages: [{ role: 'user' as const, content: 'forecast next week' }],
};

describe('a clamp that keeps extended thinking valid', () => {
  it('lowers the thinking budget below a clamped max_tokens, so the provider takes the call', async () => {
    // 9,000 of 11,000 spent: room for about 1,900 output tokens, more than 1,025 and less than 4,096.
    await spendTo(9_000);
    const { data, response } = await client().messages.create(request).withResponse();
    expect(data.type).toBe('message');
    const clamp = Number(response.headers.get('x-tollgate-output-clamped'));
    expect(clamp).toBeGreaterThan(1025);
    expect(clamp).toBeLessThan(2048);
    const sent = gw.upstream.requests.at(-1)!.body as { max_tokens: number; thinking: { budget_tokens: number } };
    expect(sent.max_tokens).toBe(clamp);
    expect(sent.thinking.budget_tokens).toBe(clamp - 1);
    expect(gw.upstream.usageLog.at(-1)!.status).toBe(200);
  });

  it('refuses with the budget\'s code, and forwards nothing, when not even the least thinking budget fits', async () => {
    // 10,400 of 11,000: about 500 output tokens would fit, fewer than 1,025.
    await spendTo(10_400);
    const before = gw.upstream.requests.length;
    const err = await client().messages.create(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const e = err as InstanceType<typeof Anthropic.APIError>;
    expect(e.status, e.message).toBe(429);
    expect((e.error as { error?: { code?: string } }).error?.code).toBe('budget_exhausted');
    expect(e.headers?.get('x-should-retry')).toBe('false');
    expect(gw.upstream.requests.length).toBe(before);
  });

  it('leaves a call without thinking clamped as before, to whatever fits', async () => {
    await spendTo(10_400);
    const { response } = await client().messages.create({ ...request, thinking: undefined }).withResponse();
    const clamp = Number(response.headers.get('x-tollgate-output-clamped'));
    expect(clamp).toBeGreaterThan(100);
    expect(clamp).toBeLessThan(1025);
  });
});
