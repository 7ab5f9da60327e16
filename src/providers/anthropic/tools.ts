import { asObject } from '../json.js';
import { ToolNames } from '../tools.js';

/**
 * Tool names in Anthropic requests and answers (names only; inputs are never read).
 * https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview: every tool, client or server
 * (web_search, code_execution…), has a `name`; the answer calls them in tool_use / server_tool_use blocks.
 */

/** count_tokens declares tools too, but is no call of them (and is free): only /messages counts. */
const TOOL_ENDPOINT = '/messages';
const CALL_BLOCKS = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);

export function requestTools(endpoint: string, body: Record<string, unknown>): string[] {
  if (endpoint !== TOOL_ENDPOINT) return [];
  const names = new ToolNames();
  names.addEach(body.tools, (tool) => tool.name);
  return names.sorted();
}

export function addCallBlock(names: ToolNames, block: unknown): void {
  const b = asObject(block);
  if (b !== undefined && CALL_BLOCKS.has(String(b.type))) names.add(b.name);
}

export function toolsFromBody(endpoint: string, body: unknown): string[] {
  const content = asObject(body)?.content;
  if (endpoint !== TOOL_ENDPOINT || !Array.isArray(content)) return [];
  const names = new ToolNames();
  for (const block of content) addCallBlock(names, block);
  return names.sorted();
}
