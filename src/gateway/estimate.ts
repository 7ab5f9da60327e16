import type { ProviderAdapter } from '../providers/types.js';

/** ~4 bytes of JSON per token: a deliberate over-estimate for prompts (JSON syntax counts too). */
const BYTES_PER_TOKEN = 4;

export function estimateTokens(adapter: ProviderAdapter, endpoint: string, body: Record<string, unknown>, bodyBytes: number): { input: number; output: number } {
  return { input: Math.ceil(bodyBytes / BYTES_PER_TOKEN), output: adapter.maxOutputTokens(endpoint, body) };
}
