import type { BodyShape } from '../providers/endpoint-spec.js';

/**
 * ~4 bytes of text per token: what the providers' tokenizers give for English and code, a little under what
 * they give for most other Latin-script text (an over-estimate); for mostly non-Latin text (CJK, Thai) a token
 * can be shorter than 4 UTF-8 bytes, and the estimate is under the count (README: the overspend bound).
 */
const BYTES_PER_TOKEN = 4;

/**
 * Tokens a provider counts for a request body, estimated from what it tokenizes rather than from the JSON sent:
 * the bytes of every string (message text, tool names, descriptions and schemas, the model id) and, below the top
 * level, of the keys (a tool schema's property names are prompt text too), ÷ 4, plus one token per object below
 * the top level (a message's or a part's framing). JSON punctuation, escapes, numbers and the top-level parameter
 * names are not counted: they made the JSON-bytes estimate about twice the real prompt for short calls.
 */
export function promptTokens(body: object): number {
  const walk = { bytes: 0, objects: 0 };
  for (const key in body) addText((body as Record<string, unknown>)[key], walk);
  return Math.ceil(walk.bytes / BYTES_PER_TOKEN) + walk.objects;
}

function addText(value: unknown, walk: { bytes: number; objects: number }): void {
  if (typeof value === 'string') {
    walk.bytes += Buffer.byteLength(value);
  } else if (Array.isArray(value)) {
    for (const item of value) addText(item, walk);
  } else if (typeof value === 'object' && value !== null) {
    walk.objects += 1;
    for (const key in value) {
      walk.bytes += Buffer.byteLength(key);
      addText((value as Record<string, unknown>)[key], walk);
    }
  }
}

/** The call's worst case in tokens: the prompt's estimate, and each answer's output limit. */
export function estimateTokens(prompt: number, shape: BodyShape): { input: number; output: number; choices: number; minOutput: number } {
  return { input: prompt, output: shape.worstOutput, choices: shape.choices, minOutput: shape.minOutput };
}
