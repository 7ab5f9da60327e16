import { clampOutputFor, isBilledFor, isStreamFor, readBodyFor, type BodyProblem, type BodyShape, type EndpointSpecs } from '../endpoint-spec.js';

export const ENDPOINTS: EndpointSpecs = {
  // Messages has no n: one answer per call.
  '/messages': { operation: 'chat', streams: true, maxOutputFields: ['max_tokens'] },
  '/messages/count_tokens': { operation: 'count_tokens', streams: false, maxOutputFields: null, billed: false },
};

export function isStream(endpoint: string, body: Record<string, unknown>): boolean {
  return isStreamFor(ENDPOINTS, endpoint, body);
}

/**
 * Extended thinking (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking): a budget of at least
 * 1,024 tokens, below max_tokens (interleaved thinking lets the budget pass max_tokens; keeping it below is valid
 * either way). A clamp must leave room for the least budget and one token more.
 */
const MIN_THINKING_BUDGET = 1024;

function thinkingBudget(body: Record<string, unknown>): number | undefined {
  const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  return thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : undefined;
}

export function readBody(endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem {
  const shape = readBodyFor(ENDPOINTS, endpoint, body);
  if (!shape.ok || endpoint !== '/messages' || thinkingBudget(body) === undefined) return shape;
  return { ...shape, minOutput: MIN_THINKING_BUDGET + 1 };
}

/** The body with max_tokens lowered to `limit`, and a thinking budget lowered below it if it was not already. */
export function clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  const clamped = clampOutputFor(ENDPOINTS, endpoint, body, limit);
  const budget = thinkingBudget(clamped);
  if (budget === undefined || budget < limit) return clamped;
  return { ...clamped, thinking: { ...(clamped.thinking as object), budget_tokens: Math.max(MIN_THINKING_BUDGET, limit - 1) } };
}

/** Anthropic streams always carry usage (message_start, message_delta): only the model changes. */
export function prepareBody(
  _endpoint: string,
  body: Record<string, unknown>,
  servedModel: string,
): { body: Record<string, unknown>; injectedUsage: boolean } {
  return { body: { ...body, model: servedModel }, injectedUsage: false };
}

export function isBilled(endpoint: string): boolean {
  return isBilledFor(ENDPOINTS, endpoint);
}
