import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IdentityFact, PolicyInput, TagsFact } from '../policy/types.js';
import type { ProviderAdapter } from '../providers/types.js';
import type { BodyShape } from '../providers/endpoint-spec.js';
import { costOf, type PriceKinds } from '../metering/pricing.js';
import { toNumber } from '../metering/money.js';
import { estimateTokens, promptTokens } from './estimate.js';

export type Facts = { input: PolicyInput; reserved: boolean };

type Request = { request: FastifyRequest; adapter: ProviderAdapter; endpoint: string; body: Record<string, unknown>; shape: BodyShape; ts: Date };

/**
 * Everything the policy needs for one call. Budget state comes with a reservation of the call's worst case,
 * made only for calls that name a complete set of tags under a verified identity: for any other call the
 * policy's answer does not depend on budgets, and an anonymous caller must not be able to hold budget.
 */
export async function gatherFacts(app: FastifyInstance, r: Request, tags: TagsFact, identity: IdentityFact, model: string | undefined): Promise<Facts> {
  const { catalog, prices, budgetGate } = app.tollgate;
  const tokens = estimateTokens(promptTokens(r.body), r.shape);
  const facts = catalog.facts(tags, identity.agent_id, model);
  const price = model ? prices.book.priceAt(model, r.ts) : null;
  // A model with no price reserves at the estimate it would be metered at, if the policy allows it at all.
  const estimate = estimateOf(tokens, price ?? (facts.model ? prices.book.estimateAt(facts.model.provider, r.ts) : null));
  if (facts.model) facts.model.priced = price !== null;
  if (facts.cheaper_model) facts.cheaper_model.priced = prices.book.priceAt(facts.cheaper_model.id, r.ts) !== null;
  let budgets: PolicyInput['budgets'] = [];
  let available = true;
  let reserved = false;
  if (identity.authenticated && tags.bu && tags.use_case && tags.session_id && identity.agent_id) {
    const state = await budgetGate.reserve({
      requestId: r.request.id, at: r.ts, bu: tags.bu, useCase: tags.use_case, agent: identity.agent_id, session: tags.session_id,
      cost: estimate.exactCost, tokens: estimate.tokens,
    });
    ({ budgets, available, reserved } = state);
  }
  const { exactCost: _exact, ...estimateFact } = estimate;
  return {
    reserved,
    input: {
      request: { id: r.request.id, provider: r.adapter.name, endpoint: r.endpoint, model, stream: r.adapter.isStream(r.endpoint, r.body) },
      identity,
      tags,
      catalog: facts,
      budgets,
      budget_state: { available, retry_after_ms: budgetGate.busyRetryAfterMs() },
      estimate: estimateFact,
      now: r.ts.toISOString(),
    },
  };
}

/** The served worst case, when the decision made it smaller than what was reserved (clamp, cheaper model). */
export function servedWorstCase(app: FastifyInstance, input: PolicyInput, servedModel: string, maxOutput: number | null, at: Date): { cost: string; tokens: number } | null {
  const perAnswer = maxOutput ?? input.estimate.output_tokens;
  if (perAnswer >= input.estimate.output_tokens && servedModel === input.request.model) return null;
  const price = app.tollgate.prices.book.priceAt(servedModel, at);
  if (!price) return null;
  // (an unpriced served model keeps the estimate it reserved)
  const none = { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 };
  const output = perAnswer * input.estimate.choices;
  return { cost: costOf({ ...none, input_tokens: input.estimate.input_tokens, output_tokens: output }, price), tokens: input.estimate.input_tokens + output };
}

/** Every answer may use the whole output limit, so the worst case counts it once per answer. */
function estimateOf(tokens: { input: number; output: number; choices: number; minOutput: number }, price: PriceKinds | null) {
  const none = { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 };
  const output = tokens.output * tokens.choices;
  const inputCost = price ? costOf({ ...none, input_tokens: tokens.input }, price) : '0';
  const exactCost = price ? costOf({ ...none, input_tokens: tokens.input, output_tokens: output }, price) : '0';
  return {
    input_tokens: tokens.input,
    output_tokens: tokens.output,
    choices: tokens.choices,
    min_output_tokens: tokens.minOutput,
    tokens: tokens.input + output,
    cost: toNumber(exactCost),
    input_cost: toNumber(inputCost),
    output_cost_per_token: price ? toNumber(price.output_per_mtok) / 1e6 : 0,
    exactCost,
  };
}
