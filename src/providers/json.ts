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

/**
 * The service tier an answer names, when it is not the standard one ('standard' at Anthropic, 'default' at
 * OpenAI): 'flex', 'priority', … as prices name them (src/metering/pricing.ts); undefined otherwise.
 */
export function nonStandardTier(tier: unknown): string | undefined {
  return typeof tier === 'string' && tier !== 'standard' && tier !== 'default' && tier !== 'auto' ? tier : undefined;
}

// A key seen this many times from the end without being the document's own is not looked for further.
const MAX_TAIL_CANDIDATES = 8;

/**
 * The value of `key` in the top-level object of a JSON document of which only the last bytes (`tail`) are at hand,
 * when the key is among that object's last members (OpenAI and Anthropic put `usage` last, or nearly: a few
 * scalar members and `metadata` may follow it); undefined otherwise. A match is the document's own member
 * when what follows its value closes exactly one object and ends the text. Inside a JSON string a quote is
 * escaped, so `"key"` followed by `:` is always a key.
 */
export function tailMember(tail: string, key: string): unknown {
  const needle = `"${key}"`;
  let at = tail.lastIndexOf(needle);
  for (let tries = 0; at >= 0 && tries < MAX_TAIL_CANDIDATES; tries++) {
    const value = memberValue(tail, at + needle.length);
    if (value !== undefined) return value;
    at = at === 0 ? -1 : tail.lastIndexOf(needle, at - 1);
  }
  return undefined;
}

function memberValue(text: string, from: number): unknown {
  let i = skipSpace(text, from);
  if (text[i] !== ':') return undefined;
  i = skipSpace(text, i + 1);
  const end = valueEnd(text, i);
  if (end < 0 || parseJson(`{"_":0${text.slice(end)}`) === undefined) return undefined;
  return parseJson(text.slice(i, end));
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return i;
}

/** Where the JSON value starting at `i` ends (exclusive), or -1 when the text ends first. */
function valueEnd(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') {
      j = stringEnd(text, j);
      if (j < 0) return -1;
      if (depth === 0) return j + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return j;
      if (--depth === 0) return j + 1;
    } else if (depth === 0 && (c === ',' || c === ' ' || c === '\n' || c === '\r' || c === '\t')) return j;
  }
  return -1;
}

/** Index of the quote that closes the string opening at `i`, or -1. */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  return -1;
}
