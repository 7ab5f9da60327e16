import { positiveInt } from './json.js';

/** What tollgate needs to know about a request body, per endpoint, declared by each provider. */
export type EndpointSpec = {
  /** The endpoint streams when the body says `stream: true`. */
  streams: boolean;
  /** Body fields that bound the output, first present wins; null when the endpoint produces no output tokens. */
  maxOutputFields: readonly string[] | null;
  /** false for endpoints the provider does not charge for (token counting). */
  billed?: false;
  /** The body field that asks for several answers (OpenAI chat `n`), each up to the output limit. */
  choicesField?: string;
};

export type EndpointSpecs = Readonly<Record<string, EndpointSpec>>;

/** Reserved when the client sets no output limit (the estimate is a worst case, reconciled afterwards). */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

export function isStreamFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>): boolean {
  return specs[endpoint]?.streams === true && body.stream === true;
}

export function maxOutputTokensFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>): number {
  const fields = specs[endpoint]?.maxOutputFields;
  if (fields === null) return 0;
  const field = fields?.find((name) => body[name] !== undefined && body[name] !== null);
  return positiveInt(field === undefined ? undefined : body[field], DEFAULT_MAX_OUTPUT_TOKENS);
}

/** The output limit per choice the body sets (as forwarded, after any clamp), null when none, 0 for an endpoint without output. */
export function outputLimitFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>): number | null {
  const fields = specs[endpoint]?.maxOutputFields;
  if (fields === null) return 0;
  const field = fields?.find((name) => body[name] !== undefined && body[name] !== null);
  const limit = field === undefined ? undefined : body[field];
  return typeof limit === 'number' && Number.isInteger(limit) && limit >= 0 ? limit : null;
}

/** How many answers the body asks for (each up to the output limit): 1 unless the endpoint has a choices field. */
export function choicesFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>): number {
  const field = specs[endpoint]?.choicesField;
  return field === undefined ? 1 : positiveInt(body[field], 1);
}

/**
 * The body with its output limit lowered to `limit` (a budget's clamp): the field the client used, or the
 * provider's first one when it set none. Endpoints without output are returned unchanged.
 */
export function clampOutputFor(specs: EndpointSpecs, endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown> {
  const fields = specs[endpoint]?.maxOutputFields;
  if (!fields || fields.length === 0) return body;
  const field = fields.find((name) => body[name] !== undefined && body[name] !== null) ?? fields[0]!;
  return { ...body, [field]: limit };
}

export function isBilledFor(specs: EndpointSpecs, endpoint: string): boolean {
  return specs[endpoint]?.billed !== false;
}
