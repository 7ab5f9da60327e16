import type { IncomingHttpHeaders } from 'node:http';
import type { TagsFact } from '../policy/types.js';

type TagName = 'bu' | 'use_case' | 'agent_id' | 'session_id';

/** Each tag's header; the baggage key is the tag name itself (W3C baggage, so tags ride along traces). */
export const TAG_HEADERS: Readonly<Record<TagName, string>> = Object.freeze({
  bu: 'x-tollgate-bu',
  use_case: 'x-tollgate-use-case',
  agent_id: 'x-tollgate-agent-id',
  session_id: 'x-tollgate-session-id',
});

const TAG_NAMES = Object.keys(TAG_HEADERS) as TagName[];

/** Tags from x-tollgate-* headers and/or baggage; a tag given in both with different values is a conflict. */
export function readTags(headers: IncomingHttpHeaders): TagsFact {
  const baggage = parseBaggage(headerValue(headers.baggage));
  const tags: TagsFact = {};
  const conflicts: string[] = [];
  for (const name of TAG_NAMES) {
    const fromHeader = headerValue(headers[TAG_HEADERS[name]])?.trim() || undefined;
    const fromBaggage = baggage.get(name) || undefined;
    if (fromHeader && fromBaggage && fromHeader !== fromBaggage) conflicts.push(name);
    const value = fromHeader ?? fromBaggage;
    if (value) tags[name] = value;
  }
  if (conflicts.length > 0) tags.conflicts = conflicts;
  return tags;
}

/** W3C baggage: comma-separated `key=value;props`, values percent-encoded. Malformed members are skipped. */
export function parseBaggage(value: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!value) return out;
  for (const member of value.split(',')) {
    const [pair] = member.split(';');
    const eq = pair?.indexOf('=') ?? -1;
    if (!pair || eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    try {
      out.set(key, decodeURIComponent(pair.slice(eq + 1).trim()));
    } catch {
      continue;
    }
  }
  return out;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** The call that made this one, from `x-tollgate-parent-id` or baggage `parent_id` (for session cost trees). */
export function readParentId(headers: IncomingHttpHeaders): string | null {
  const fromHeader = headerValue(headers['x-tollgate-parent-id'])?.trim();
  return fromHeader || parseBaggage(headerValue(headers.baggage)).get('parent_id') || null;
}
