import * as anthropic from '../anthropic/tools.js';
import * as gemini from '../gemini/tools.js';
import { publisherOf } from './body.js';

/** Tools are declared and called as on each publisher's own API. */
export function requestTools(endpoint: string, body: Record<string, unknown>): string[] {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.requestTools(p.endpoint, body) : anthropic.requestTools(p.endpoint, body);
}

export function toolsFromBody(endpoint: string, body: unknown): string[] {
  const p = publisherOf(endpoint);
  return p.publisher === 'google' ? gemini.toolsFromBody(p.endpoint, body) : anthropic.toolsFromBody(p.endpoint, body);
}
