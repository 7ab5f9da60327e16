import type { IncomingHttpHeaders } from 'node:http';
import type { TagsFact } from '../policy/types.js';
import type { ClaimedTags } from '../metering/types.js';
import { ID_ALPHABET, ID_PATTERN, MAX_ID_LENGTH } from '../ids.js';

type TagName = 'bu' | 'use_case' | 'agent_id' | 'session_id';
/** The tags and the parent call id: what the edge checks, and what a caller may claim. */
type IdName = TagName | 'parent_id';

/** Each tag's header; the baggage key is the tag name itself (W3C baggage, so tags ride along traces). */
export const TAG_HEADERS: Readonly<Record<TagName, string>> = Object.freeze({
  bu: 'x-tollgate-bu',
  use_case: 'x-tollgate-use-case',
  agent_id: 'x-tollgate-agent-id',
  session_id: 'x-tollgate-session-id',
});

const ID_HEADERS: Readonly<Record<IdName, string>> = Object.freeze({ ...TAG_HEADERS, parent_id: 'x-tollgate-parent-id' });
const TAG_NAMES = Object.keys(TAG_HEADERS) as TagName[];
const ID_NAMES = Object.keys(ID_HEADERS) as IdName[];

/** W3C Baggage's own limit for the whole header (https://www.w3.org/TR/baggage/#limits). */
export const MAX_BAGGAGE_BYTES = 8192;

export type EdgeTags = { ok: true; tags: TagsFact; parentId: string | null };
export type TagRefusal = { ok: false; code: 'invalid_tag' | 'conflicting_tag'; message: string };

/** What the edge needs of a request: its headers as Node joined them, and as they came (duplicates apart). */
export type HeaderSource = { headers: IncomingHttpHeaders; rawHeaders: readonly string[] };

/**
 * Tags and the parent call id from x-tollgate-* headers and/or W3C baggage, checked. A value that breaks the
 * pattern, a header repeated with different values, a baggage key given twice with different values or a
 * baggage header past 8192 bytes is refused, naming the tag and why, never echoing the value. A tag given both
 * ways with different values is a conflict the policy reports (`conflicts`); for the parent id the header wins.
 */
export function readTags(source: HeaderSource): EdgeTags | TagRefusal {
  const baggage = readBaggage(source.headers.baggage);
  if ('ok' in baggage) return baggage;
  const tags: TagsFact = {};
  let conflicts: string[] | undefined;
  let parentId: string | null = null;
  for (const name of ID_NAMES) {
    const header = ID_HEADERS[name];
    const fromHeader = headerValue(source, header);
    if (fromHeader !== undefined && typeof fromHeader !== 'string') return fromHeader;
    const fromBaggage = baggage.get(name);
    const refusal = (fromHeader && invalid(name, header, fromHeader)) || (fromBaggage && invalid(name, `baggage ${name}`, fromBaggage));
    if (refusal) return refusal;
    const value = fromHeader || fromBaggage;
    if (!value) continue;
    if (name === 'parent_id') {
      parentId = value;
      continue;
    }
    tags[name] = value;
    if (fromHeader && fromBaggage && fromHeader !== fromBaggage) (conflicts ??= []).push(name);
  }
  if (conflicts) tags.conflicts = conflicts;
  return { ok: true, tags, parentId };
}

/** What the caller claimed, for a denial's record (src/gateway/deny.ts); null when it claimed nothing. */
export function claimedOf(tags: TagsFact, parentId: string | null): ClaimedTags | null {
  let claimed: ClaimedTags | null = null;
  for (const name of TAG_NAMES) if (tags[name]) (claimed ??= {})[name] = tags[name];
  if (parentId !== null) (claimed ??= {}).parent_id = parentId;
  return claimed;
}

/** A header's value, trimmed; when Node joined repeated lines (a comma, which no valid value holds) they must agree. */
function headerValue(source: HeaderSource, name: string): string | TagRefusal | undefined {
  const joined = source.headers[name];
  const value = typeof joined === 'string' ? joined.trim() : undefined;
  if (!value?.includes(',')) return value;
  const lines: string[] = [];
  for (let i = 0; i < source.rawHeaders.length; i += 2) {
    if (source.rawHeaders[i]!.toLowerCase() === name) lines.push(source.rawHeaders[i + 1]!.trim());
  }
  if (lines.length < 2) return value;
  if (lines.some((line) => line !== lines[0])) {
    return conflict(`${tagOf(name)} (${name} is sent twice with different values)`);
  }
  return lines[0];
}

const NO_BAGGAGE: ReadonlyMap<string, string> = new Map();

/** Only tollgate's keys are read; other members (another vendor's) are skipped unparsed. */
function readBaggage(header: string | string[] | undefined): ReadonlyMap<string, string> | TagRefusal {
  if (header === undefined || header === '') return NO_BAGGAGE;
  const out = new Map<string, string>();
  // Node joins repeated baggage lines with ", ", which is how W3C baggage lists combine anyway.
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value.length > MAX_BAGGAGE_BYTES) {
    return { ok: false, code: 'invalid_tag', message: `invalid tag: the baggage header is longer than ${MAX_BAGGAGE_BYTES} bytes` };
  }
  for (const member of value.split(',')) {
    const eq = member.indexOf('=');
    if (eq <= 0) continue;
    const key = member.slice(0, eq).trim();
    if (!Object.hasOwn(ID_HEADERS, key)) continue;
    const semi = member.indexOf(';', eq);
    let decoded: string;
    try {
      decoded = decodeURIComponent(member.slice(eq + 1, semi < 0 ? undefined : semi).trim());
    } catch {
      return { ok: false, code: 'invalid_tag', message: `invalid tag: ${key} (baggage ${key}) is not valid percent-encoding` };
    }
    const seen = out.get(key);
    if (seen !== undefined && seen !== decoded) return conflict(`${key} (baggage has ${key} twice with different values)`);
    out.set(key, decoded);
  }
  return out;
}

function invalid(name: IdName, where: string, value: string): TagRefusal | undefined {
  if (ID_PATTERN.test(value)) return undefined;
  return { ok: false, code: 'invalid_tag', message: `invalid tag: ${name} (${where}) ${whyInvalid(value)}; a tag is 1 to ${MAX_ID_LENGTH} of ${ID_ALPHABET}` };
}

// Characters first, length last: a header's non-ASCII bytes are more characters than the same text in baggage,
// and the same value must get the same answer both ways.
function whyInvalid(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'contains a control character';
  if (/[\u0080-\uffff]/.test(value)) return 'contains a non-ASCII character';
  if (value.length > MAX_ID_LENGTH) return `is longer than ${MAX_ID_LENGTH} characters`;
  return 'contains a character that is not allowed';
}

function conflict(what: string): TagRefusal {
  return { ok: false, code: 'conflicting_tag', message: `conflicting tag: ${what}` };
}

function tagOf(header: string): string {
  return ID_NAMES.find((n) => ID_HEADERS[n] === header) ?? header;
}
