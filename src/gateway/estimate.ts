import type { BodyShape } from '../providers/endpoint-spec.js';

/** ~4 bytes of JSON per token: a deliberate over-estimate for prompts (JSON syntax counts too). */
const BYTES_PER_TOKEN = 4;

/** The call's worst case in tokens: the prompt from the bytes received, and each answer's output limit. */
export function estimateTokens(bodyBytes: number, shape: BodyShape): { input: number; output: number; choices: number; minOutput: number } {
  return { input: Math.ceil(bodyBytes / BYTES_PER_TOKEN), output: shape.worstOutput, choices: shape.choices, minOutput: shape.minOutput };
}
