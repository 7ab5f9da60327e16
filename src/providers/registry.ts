import { anthropic } from './anthropic/index.js';
import { azure } from './azure/index.js';
import { bedrock } from './bedrock/index.js';
import { gemini } from './gemini/index.js';
import { openai } from './openai/index.js';
import { vertex } from './vertex/index.js';
import type { ProviderAdapter } from './types.js';

/** Every provider tollgate routes to, by name. Adding a provider: its folder, and one line here. */
export const PROVIDERS: Readonly<Record<string, ProviderAdapter>> = Object.freeze({
  [openai.name]: openai,
  [anthropic.name]: anthropic,
  [azure.name]: azure,
  [gemini.name]: gemini,
  [vertex.name]: vertex,
  [bedrock.name]: bedrock,
});

export function providerByName(name: string): ProviderAdapter | undefined {
  return Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
}
