/** Tolerant readers for provider JSON: metering must never throw on a body it does not recognise. */

export type JsonObject = Record<string, unknown>;

export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** A token count: a finite non-negative number, else undefined. */
export function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
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

/**
 * The service tier an answer names, when it is not the standard one ('standard' at Anthropic, 'default' at
 * OpenAI): 'flex', 'priority', … as prices name them (src/metering/pricing.ts); undefined otherwise.
 */
export function nonStandardTier(tier: unknown): string | undefined {
  return typeof tier === 'string' && tier !== 'standard' && tier !== 'default' && tier !== 'auto' ? tier : undefined;
}
