import { asObject } from '../json.js';
import { ToolNames, nested } from '../tools.js';

/**
 * Tool names in OpenAI requests and answers (names only; arguments are never read).
 * Chat: https://platform.openai.com/docs/api-reference/chat/create (tools, legacy functions, tool_calls).
 * Responses: https://platform.openai.com/docs/api-reference/responses/create (tools; function_call output items).
 */

const TOOL_ENDPOINTS = new Set(['/chat/completions', '/responses']);

/** Responses tools carry `name`; chat tools nest it under their type; built-in tools (web_search…) are known by type. */
function declaredName(tool: Record<string, unknown>): unknown {
  if (tool.name !== undefined) return tool.name;
  if (tool.type === 'function' || tool.type === 'custom') return nested(tool, tool.type, 'name');
  return tool.type;
}

function calledName(call: Record<string, unknown>): unknown {
  return nested(call, 'function', 'name') ?? nested(call, 'custom', 'name');
}

/** Output items that call a tool by name; built-in tools' calls were declared by type already. */
const NAMED_CALL_ITEMS = new Set(['function_call', 'custom_tool_call']);

function addOutputItem(names: ToolNames, item: unknown): void {
  const call = asObject(item);
  if (call !== undefined && NAMED_CALL_ITEMS.has(String(call.type))) names.add(call.name);
}

export function requestTools(endpoint: string, body: Record<string, unknown>): string[] {
  if (!TOOL_ENDPOINTS.has(endpoint)) return [];
  const names = new ToolNames();
  names.addEach(body.tools, declaredName);
  names.addEach(body.functions, (fn) => fn.name);
  return names.sorted();
}

/** Chat message or stream delta: tool_calls[].function.name, or the legacy function_call.name. */
export function addChatCalls(names: ToolNames, choices: unknown, key: 'message' | 'delta'): void {
  if (!Array.isArray(choices)) return;
  for (const choice of choices) {
    const message = asObject(asObject(choice)?.[key]);
    if (message === undefined) continue;
    names.addEach(message.tool_calls, calledName);
    names.add(nested(message, 'function_call', 'name'));
  }
}

export function addResponseOutput(names: ToolNames, output: unknown): void {
  if (Array.isArray(output)) for (const item of output) addOutputItem(names, item);
}

/** Responses stream: response.output_item.added / .done carry one item each. */
export function addResponsesItem(names: ToolNames, payload: Record<string, unknown>): void {
  addOutputItem(names, payload.item);
}

export function toolsFromBody(endpoint: string, body: unknown): string[] {
  const answer = asObject(body);
  if (answer === undefined) return [];
  const names = new ToolNames();
  if (endpoint === '/chat/completions') addChatCalls(names, answer.choices, 'message');
  else if (endpoint === '/responses') addResponseOutput(names, answer.output);
  return names.sorted();
}
