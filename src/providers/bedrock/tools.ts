import { asObject } from '../json.js';
import { ToolNames } from '../tools.js';
import { requestTools as anthropicRequestTools, toolsFromBody as anthropicToolsFromBody } from '../anthropic/tools.js';

/**
 * Tool names (never inputs): Converse declares `toolConfig.tools[].toolSpec.name` and calls them in `toolUse`
 * content blocks (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Tool.html); InvokeModel's
 * Anthropic body and answer name them as Anthropic's do.
 */
const isInvoke = (endpoint: string) => endpoint.startsWith('/invoke');

export function requestTools(endpoint: string, body: Record<string, unknown>): string[] {
  if (isInvoke(endpoint)) return anthropicRequestTools('/messages', body);
  const names = new ToolNames();
  names.addEach(asObject(body.toolConfig)?.tools, (tool) => asObject(tool.toolSpec)?.name);
  return names.sorted();
}

export function toolsFromBody(endpoint: string, body: unknown): string[] {
  if (isInvoke(endpoint)) return anthropicToolsFromBody('/messages', body);
  const names = new ToolNames();
  names.addEach(asObject(asObject(asObject(body)?.output)?.message)?.content, (block) => asObject(block.toolUse)?.name);
  return names.sorted();
}
