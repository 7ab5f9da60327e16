/** Tolerant readers for provider JSON: metering must never throw on a body it does not recognise. */

export type JsonObject = Record<string, unknown>;

export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/**
 * The largest token count tollgate believes: a trillion, six orders of magnitude past any context window. A
 * number beyond it is not usage but a faulty reply, and counts up to it stay exact through every sum and price.
 */
export const MAX_TOKEN_COUNT = 1_000_000_000_000;

/** A token count: a non-negative safe integer up to MAX_TOKEN_COUNT, else undefined. */
export function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKEN_COUNT ? value : undefined;
}

/** Something in a count's place that is not a count (a fraction, a negative or huge number, a string); absent or null is not. */
export function isBadCount(value: unknown): boolean {
  return value !== undefined && value !== null && tokenCount(value) === undefined;
}

const MAX_REPORTED_TEXT = 64;

/**
 * A provider's count fields as they came, for the review queue: numbers as they are, anything else as short
 * text without control characters (it is stored, and jsonb refuses NUL).
 */
export function reportedCounts(fields: Record<string, unknown>): Record<string, number | string | null> {
  const out: Record<string, number | string | null> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'number' || value === null ? value : String(JSON.stringify(value)).replace(/\p{Cc}/gu, '').slice(0, MAX_REPORTED_TEXT);
  }
  return out;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function stringField(body: unknown, key: string): string | undefined {
  const value = asObject(body)?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** A positive integer limit from the request body, else the fallback. */
export function positiveInt(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback;
}
