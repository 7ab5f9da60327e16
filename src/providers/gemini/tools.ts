import { asObject } from '../json.js';
import { ToolNames } from '../tools.js';

/**
 * Tool names in Gemini requests and answers (names only; arguments are never read):
 * https://ai.google.dev/api/caching#Tool — function declarations by name, built-in tools (googleSearch,
 * codeExecution, urlContext…) by their key; calls are functionCall parts of a candidate's content.
 */

export function requestTools(endpoint: string, body: Record<string, unknown>): string[] {
  if (endpoint === ':countTokens' || !Array.isArray(body.tools)) return [];
  const names = new ToolNames();
  for (const value of body.tools) {
    const tool = asObject(value);
    if (tool === undefined) continue;
    for (const key of Object.keys(tool)) {
      if (key === 'functionDeclarations') names.addEach(tool[key], (fn) => fn.name);
      else names.add(key);
    }
  }
  return names.sorted();
}

/** functionCall parts of every candidate (a stream chunk or a whole answer). */
export function addCandidateCalls(names: ToolNames, candidates: unknown): void {
  if (!Array.isArray(candidates)) return;
  for (const candidate of candidates) {
    const parts = asObject(asObject(candidate)?.content)?.parts;
    names.addEach(parts, (part) => asObject(part.functionCall)?.name);
  }
}

export function toolsFromBody(_endpoint: string, body: unknown): string[] {
  const names = new ToolNames();
  addCandidateCalls(names, asObject(body)?.candidates);
  return names.sorted();
}
