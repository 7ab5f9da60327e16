/** What tollgate needs to know about a request body, per endpoint, declared by each provider. */
export type EndpointSpec = {
  /** The operation in OpenTelemetry's GenAI conventions (`gen_ai.operation.name`): chat, embeddings… */
  operation: string;
  /** The endpoint streams when the body says `stream: true`. */
  streams: boolean;
  /** Body fields that bound the output of each answer; null when the endpoint produces no output tokens. */
  maxOutputFields: readonly string[] | null;
  /** The field that asks for several answers at once (OpenAI chat `n`) and its largest value, if the endpoint has one. */
  choices?: { field: string; max: number };
  /** false for endpoints the provider does not charge for (token counting). */
  billed?: false;
};

export type EndpointSpecs = Readonly<Record<string, EndpointSpec>>;

/** An adapter's endpoints and each one's GenAI operation, from its specs. */
export function endpointsOf(specs: EndpointSpecs): { endpoints: readonly string[]; operations: Readonly<Record<string, string>> } {
  return {
    endpoints: Object.freeze(Object.keys(specs)),
    operations: Object.freeze(Object.fromEntries(Object.entries(specs).map(([endpoint, spec]) => [endpoint, spec.operation]))),
  };
}

/** Reserved when the client sets no output limit (the estimate is a worst case, reconciled afterwards). */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
/**
 * The largest output limit accepted: above any model's today (128K), and small enough that limit × answers ×
 * price stays exact in a double. A limit must be a whole number from 1: OpenAI and Anthropic refuse 0 too.
 */
export const MAX_OUTPUT_TOKENS = 1_000_000;
/** Model ids are short; a longer one is no model and would only bloat the decision log. */
export const MAX_MODEL_LENGTH = 256;

/**
 * What a body asks for: its output limit per answer (the largest of the fields set; null when it sets none; 0 for
 * an endpoint without output), the worst case per answer that a reservation counts (that limit, or the default;
 * 0 without output) and how many answers.
 */
export type BodyShape = {
  ok: true; outputLimit: number | null; worstOutput: number; choices: number;
  /** The least output limit per answer that keeps the request valid (a provider's rule; 1 elsewhere). */
  minOutput: number;
};
export type BodyProblem = { ok: false; message: string };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Checks the fields tollgate budgets on; a value a provider would refuse or that breaks the arithmetic is a 400. */
export function readBodyFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem {
  const spec = specs[endpoint];
  if (typeof body.model === 'string' && (body.model.length > MAX_MODEL_LENGTH || CONTROL.test(body.model))) {
    return problem('model', `must be at most ${MAX_MODEL_LENGTH} characters, without control characters`);
  }
  let outputLimit: number | null = null;
  for (const field of spec?.maxOutputFields ?? []) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (!isCount(value, MAX_OUTPUT_TOKENS)) return problem(field, `must be a whole number from 1 to ${MAX_OUTPUT_TOKENS}`);
    outputLimit = Math.max(outputLimit ?? 0, value);
  }
  let choices = 1;
  const n = spec?.choices === undefined ? undefined : body[spec.choices.field];
  if (n !== undefined && n !== null) {
    if (!isCount(n, spec!.choices!.max)) return problem(spec!.choices!.field, `must be a whole number from 1 to ${spec!.choices!.max}`);
    choices = n;
  }
  // An endpoint without output (embeddings, count_tokens) has a limit of 0: what metering may bill (src/metering/bound.ts).
  if (spec?.maxOutputFields === null) return { ok: true, outputLimit: 0, worstOutput: 0, choices, minOutput: 1 };
  return { ok: true, outputLimit, worstOutput: outputLimit ?? DEFAULT_MAX_OUTPUT_TOKENS, choices, minOutput: 1 };
}

function isCount(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max;
}

function problem(field: string, rule: string): BodyProblem {
  return { ok: false, message: `invalid request: ${field} ${rule}` };
}

export function isStreamFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>): boolean {
  return specs[endpoint]?.streams === true && body.stream === true;
}

/**
 * The body with its output limit lowered to `limit` per answer (a budget's clamp): every output field the
 * client set (a provider may read either), or the provider's first one when it set none. Endpoints without
 * output are returned unchanged.
 */
export function clampOutputFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  const fields = specs[endpoint]?.maxOutputFields;
  if (!fields || fields.length === 0) return body;
  const clamped: Record<string, unknown> = { ...body };
  let set = false;
  for (const field of fields) {
    const value = body[field];
    if (typeof value !== 'number') continue;
    clamped[field] = Math.min(value, limit);
    set = true;
  }
  if (!set) clamped[fields[0]!] = limit;
  return clamped;
}

export function isBilledFor(specs: EndpointSpecs, endpoint: string): boolean {
  return specs[endpoint]?.billed !== false;
}
