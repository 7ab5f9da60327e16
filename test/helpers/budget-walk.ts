import { expect } from 'vitest';
import type { Gateway } from './gateway.js';
import { expectedCost, normalizeDecimal } from './expect-cost.js';
import { ledgerRowOf } from './ledger.js';

/** What one vendor's walk through the budget tiers is made of; the walk itself is the same on every vendor. */
export type BudgetWalk<Answer, Refusal> = {
  /** The vendor as the decision log names it. */
  provider: string;
  /** The use case whose budget the calls spend. */
  useCase: string;
  /** The catalog model the agent asks for, and the cheaper one served at the soft cap. */
  requested: string;
  cheaper: string;
  /** Where the cheaper model goes up: the upstream request's URL, with its query. */
  cheaperUrl: string;
  /** The HTTP status of the hard cap's refusal in the vendor's shape. */
  refusedStatus: number;
  /** The walk fails if it has not been refused after this many calls. */
  maxCalls: number;
  /** One call through the vendor's SDK, and what tells its error class (the refusal's) from any other error. */
  call: () => Promise<Answer>;
  isRefusal: (error: unknown) => error is Refusal;
  /** tollgate's headers on an answer, by lower-case name. */
  headersOf: (answer: Answer) => Record<string, string | undefined>;
  /** The output limit in the body that went upstream, where a clamp writes it. */
  maxOutputSent: (body: unknown) => number;
};

/**
 * Calls until the hard cap refuses, a flush after each. On the way: a clamp is the limit the upstream got; the
 * cheaper model is served at the soft cap, at its own URL, and its ledger row is the fake's usage at its price.
 * At the end: the first call served the requested model, nothing went upstream for the refusal, and the
 * decision log holds that one refusal, budget_exhausted (none more: an SDK that retried would add some).
 */
export async function walkToHardCap<Answer, Refusal>(gw: Gateway, walk: BudgetWalk<Answer, Refusal>): Promise<{ served: string[]; refusal: Refusal }> {
  const refusedBefore = new Set((await refusalsOf(gw, walk.useCase)).map((r) => r.request_id));
  const served: string[] = [];
  for (let i = 0; i < walk.maxCalls; i++) {
    const upstreamBefore = gw.upstream.requests.length;
    const out = await walk.call().then((answer) => ({ answer }), (error: unknown) => ({ error }));
    await gw.flush();
    if ('answer' in out) {
      served.push(await expectServed(gw, walk, walk.headersOf(out.answer)));
      continue;
    }
    if (!walk.isRefusal(out.error)) throw out.error;
    expect(gw.upstream.requests.length, 'nothing forwarded on the refusal').toBe(upstreamBefore);
    expect(served[0]).toBe(walk.requested);
    expect(served).toContain(walk.cheaper);
    const refused = (await refusalsOf(gw, walk.useCase)).filter((r) => !refusedBefore.has(r.request_id));
    expect(refused, `served ${served.join(', ')}`).toMatchObject([{ provider: walk.provider, code: 'budget_exhausted', http_status: walk.refusedStatus }]);
    return { served, refusal: out.error };
  }
  throw new Error(`not refused in ${walk.maxCalls} calls; served ${served.join(', ')}`);
}

/** The served model, once the call is checked against what went upstream and what the ledger holds. */
async function expectServed<Answer, Refusal>(gw: Gateway, walk: BudgetWalk<Answer, Refusal>, headers: Record<string, string | undefined>): Promise<string> {
  const model = headers['x-tollgate-model-served'];
  expect(model, 'x-tollgate-model-served').toBeDefined();
  const sent = gw.upstream.requests.at(-1)!;
  const clamp = headers['x-tollgate-output-clamped'];
  if (clamp !== undefined) expect(walk.maxOutputSent(sent.body)).toBe(Number(clamp));
  if (model === walk.cheaper) {
    expect(headers['x-tollgate-budget-tier']).toBe('soft_cap');
    expect(sent.url).toBe(walk.cheaperUrl);
    const row = await ledgerRowOf(gw, headers['x-tollgate-request-id']);
    expect(normalizeDecimal(row.cost as string)).toBe(expectedCost(gw.upstream.usageLog.at(-1)!.usage, walk.cheaper));
  }
  return model!;
}

async function refusalsOf(gw: Gateway, useCase: string): Promise<{ request_id: string; provider: string; code: string; http_status: number }[]> {
  await gw.flush();
  return gw.app.tollgate.db('decision_log').where({ use_case_id: useCase, allowed: false }).orderBy('id');
}
