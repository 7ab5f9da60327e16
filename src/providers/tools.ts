import { asObject } from './json.js';

/**
 * Tool names a call declared or called, for the adjacency analysis (use cases of different BUs sharing tools).
 * Names only: arguments, descriptions and schemas are never read into anything kept. A name that does not
 * look like a tool name is dropped, not an error: metering never rejects a call.
 */

export const TOOL_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
export const MAX_TOOLS_PER_CALL = 64;

/** Distinct sane tool names, in the order first seen, at most MAX_TOOLS_PER_CALL (a hostile stream stays bounded). */
export class ToolNames {
  private readonly seen = new Set<string>();

  add(name: unknown): void {
    if (this.seen.size < MAX_TOOLS_PER_CALL && typeof name === 'string' && TOOL_NAME.test(name)) this.seen.add(name);
  }

  /** Adds `pick(item)` for every object item of `list` (anything else in it is skipped). */
  addEach(list: unknown, pick: (item: Record<string, unknown>) => unknown): void {
    if (!Array.isArray(list)) return;
    for (const value of list) {
      const item = asObject(value);
      if (item !== undefined) this.add(pick(item));
    }
  }

  sorted(): string[] {
    return [...this.seen].sort();
  }
}

/** The union of the lists, sanitized, distinct and sorted (the form usage_events.tools keeps). */
export function mergeToolNames(...lists: readonly (readonly unknown[] | undefined)[]): string[] {
  const names = new ToolNames();
  for (const list of lists) for (const name of list ?? []) names.add(name);
  return names.sorted();
}

/** A field of a nested object (`item.function.name`), else undefined. */
export function nested(item: Record<string, unknown>, key: string, field: string): unknown {
  return asObject(item[key])?.[field];
}
