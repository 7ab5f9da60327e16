import { MAX_OUTPUT_TOKENS, readBodyFor, type BodyProblem, type BodyShape, type EndpointSpecs } from '../endpoint-spec.js';
import { asObject } from '../json.js';
import { clampOutput as clampMessages, readBody as readMessages } from '../anthropic/body.js';

/**
 * Converse (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html) bounds the output
 * in `inferenceConfig.maxTokens`; InvokeModel's body is the model's own: tollgate takes Anthropic's Messages body
 * as Bedrock runs it (`anthropic_version: "bedrock-2023-05-31"`, `max_tokens`, no model: the path names it).
 */
export const ENDPOINTS: EndpointSpecs = {
  '/converse': { operation: 'chat', streams: false, maxOutputFields: ['maxTokens'] },
  '/converse-stream': { operation: 'chat', streams: false, maxOutputFields: ['maxTokens'] },
  '/invoke': { operation: 'chat', streams: false, maxOutputFields: ['max_tokens'] },
  '/invoke-with-response-stream': { operation: 'chat', streams: false, maxOutputFields: ['max_tokens'] },
};

const INVOKE = new Set(['/invoke', '/invoke-with-response-stream']);
/** Bedrock's own (`bedrock-2023-05-31`), or an Anthropic API version, which AnthropicBedrock puts in the body. */
const ANTHROPIC_VERSION = /^(bedrock-)?\d{4}-\d{2}-\d{2}$/;
/** Anthropic's least thinking budget (src/providers/anthropic/body.ts): a clamp must leave it and one token more. */
const MIN_THINKING_BUDGET = 1024;

/** The path says whether the answer streams (an event stream), never the body. */
export function isStream(endpoint: string): boolean {
  return endpoint === '/converse-stream' || endpoint === '/invoke-with-response-stream';
}

export function readBody(endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem {
  return INVOKE.has(endpoint) ? readInvoke(body) : readConverse(body);
}

function readInvoke(body: Record<string, unknown>): BodyShape | BodyProblem {
  if (typeof body.anthropic_version !== 'string' || !ANTHROPIC_VERSION.test(body.anthropic_version)) {
    return { ok: false, message: 'invalid request: tollgate forwards InvokeModel bodies in Anthropic\'s Messages format only (anthropic_version such as "bedrock-2023-05-31", max_tokens, messages); use Converse for other models' };
  }
  if (body.model !== undefined) return { ok: false, message: 'invalid request: an InvokeModel body names no model (the path does)' };
  return readMessages('/messages', body);
}

function readConverse(body: Record<string, unknown>): BodyShape | BodyProblem {
  const config = body.inferenceConfig;
  if (config !== undefined && config !== null && asObject(config) === undefined) {
    return { ok: false, message: 'invalid request: inferenceConfig must be an object' };
  }
  const shape = readBodyFor(ENDPOINTS, '/converse', asObject(config) ?? {});
  if (!shape.ok) return { ok: false, message: shape.message.replace('invalid request: ', 'invalid request: inferenceConfig.') };
  const budget = converseThinkingBudget(body);
  if (budget === undefined) return shape;
  if (!Number.isInteger(budget) || budget < MIN_THINKING_BUDGET || budget > MAX_OUTPUT_TOKENS) {
    return { ok: false, message: `invalid request: additionalModelRequestFields.thinking.budget_tokens must be a whole number from ${MIN_THINKING_BUDGET}` };
  }
  return { ...shape, minOutput: MIN_THINKING_BUDGET + 1 };
}

/** Anthropic's extended thinking asked through Converse, in the model's own fields. */
function converseThinkingBudget(body: Record<string, unknown>): number | undefined {
  const thinking = asObject(asObject(body.additionalModelRequestFields)?.thinking);
  return thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : undefined;
}

/** The body with its output limit lowered to `limit`, and a thinking budget kept below it (at least Anthropic's least). */
export function clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  if (INVOKE.has(endpoint)) return clampMessages('/messages', body, limit);
  const config = asObject(body.inferenceConfig) ?? {};
  const current = config.maxTokens;
  const clamped = { ...body, inferenceConfig: { ...config, maxTokens: typeof current === 'number' ? Math.min(current, limit) : limit } };
  const budget = converseThinkingBudget(body);
  if (budget === undefined || budget < limit) return clamped;
  const fields = asObject(body.additionalModelRequestFields)!;
  const thinking = { ...asObject(fields.thinking), budget_tokens: Math.max(MIN_THINKING_BUDGET, limit - 1) };
  return { ...clamped, additionalModelRequestFields: { ...fields, thinking } };
}

/** The model is in the path; every answer reports usage (Converse's usage, the stream's metadata or invocation metrics). */
export function prepareBody(_endpoint: string, body: Record<string, unknown>): { body: Record<string, unknown>; injectedUsage: boolean } {
  return { body, injectedUsage: false };
}

export function isBilled(): boolean {
  return true;
}
