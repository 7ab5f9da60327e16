import { describe, expect, it } from 'vitest';
import { claimedOf, readTags, type HeaderSource } from '../../../src/gateway/tags.js';

/** Headers as Node hands them over: joined by name (repeated lines of an x- header become "a, b") and raw. */
function source(lines: [string, string][]): HeaderSource {
  const headers: Record<string, string> = {};
  for (const [name, value] of lines) {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return { headers, rawHeaders: lines.flat() };
}

const ALL: [string, string][] = [
  ['x-tollgate-bu', 'marketing'], ['x-tollgate-use-case', 'trade-promo'], ['x-tollgate-agent-id', 'promo-planner'], ['x-tollgate-session-id', 's-1'],
];

describe('readTags', () => {
  it('reads headers, baggage, or both, and leaves a header/baggage disagreement to the policy', () => {
    expect(readTags(source(ALL))).toEqual({
      ok: true, parentId: null, tags: { bu: 'marketing', use_case: 'trade-promo', agent_id: 'promo-planner', session_id: 's-1' },
    });
    const both = readTags(source([['X-Tollgate-Bu', 'marketing'], ['baggage', 'bu=finance, session_id=s%3A2;ttl=5, parent_id=p-1, other=%E2%82%AC']]));
    expect(both).toEqual({ ok: true, parentId: 'p-1', tags: { bu: 'marketing', session_id: 's:2', conflicts: ['bu'] } });
    expect(claimedOf((both as { tags: object }).tags, 'p-1')).toEqual({ bu: 'marketing', session_id: 's:2', parent_id: 'p-1' });
  });

  it('claims nothing when nothing is sent, and takes an empty header as missing', () => {
    expect(readTags(source([['x-tollgate-bu', '  ']]))).toEqual({ ok: true, tags: {}, parentId: null });
    expect(claimedOf({}, null)).toBeNull();
  });

  it('prefers the parent id header over baggage', () => {
    expect(readTags(source([['x-tollgate-parent-id', 'from-header'], ['baggage', 'parent_id=from-baggage']]))).toMatchObject({ parentId: 'from-header' });
  });

  it.each([
    ['a space', 'a b', 'contains a character that is not allowed'],
    ['a comma', 'a%2Cb', 'contains a character that is not allowed'],
    ['NUL', 'a%00b', 'contains a control character'],
    ['non-ASCII', 'caf%C3%A9', 'contains a non-ASCII character'],
    ['129 characters', 'x'.repeat(129), 'is longer than 128 characters'],
  ])('refuses %s in baggage, naming the tag and why, never the value', (_name, value, why) => {
    const r = readTags(source([['baggage', `session_id=${value}`]]));
    expect(r).toEqual({ ok: false, code: 'invalid_tag', message: `invalid tag: session_id (baggage session_id) ${why}; a tag is 1 to 128 of A-Z a-z 0-9 _ . : -` });
  });

  it('says the same of the same characters in a header, where Node read them as latin1', () => {
    const r = readTags(source([['x-tollgate-agent-id', Buffer.from('café', 'utf8').toString('latin1')]]));
    expect(r).toMatchObject({ ok: false, code: 'invalid_tag', message: expect.stringContaining('agent_id (x-tollgate-agent-id) contains a non-ASCII character') });
  });

  it('refuses a repeated tag header with different values, and takes identical ones as one', () => {
    expect(readTags(source([...ALL, ['x-tollgate-session-id', 's-2']]))).toEqual({ ok: false, code: 'conflicting_tag', message: 'conflicting tag: session_id (x-tollgate-session-id is sent twice with different values)' });
    expect(readTags(source([...ALL, ['x-tollgate-session-id', 's-1']]))).toMatchObject({ ok: true, tags: { session_id: 's-1' } });
  });

  it('refuses a baggage key given twice with different values, across repeated baggage headers too', () => {
    expect(readTags(source([['baggage', 'bu=a,bu=b']]))).toMatchObject({ ok: false, code: 'conflicting_tag' });
    expect(readTags(source([['baggage', 'bu=a'], ['baggage', 'bu=b']]))).toMatchObject({ ok: false, code: 'conflicting_tag' });
    expect(readTags(source([['baggage', 'bu=a'], ['baggage', 'bu=a']]))).toMatchObject({ ok: true, tags: { bu: 'a' } });
  });

  it('refuses a baggage header over 8192 bytes and bad percent-encoding', () => {
    expect(readTags(source([['baggage', `k=${'v'.repeat(8191)}`]]))).toMatchObject({ ok: false, code: 'invalid_tag', message: 'invalid tag: the baggage header is longer than 8192 bytes' });
    expect(readTags(source([['baggage', 'bu=%E2%82']]))).toMatchObject({ ok: false, code: 'invalid_tag', message: 'invalid tag: bu (baggage bu) is not valid percent-encoding' });
    // Another vendor's member is never decoded.
    expect(readTags(source([['baggage', 'vendor=%E2%82']]))).toMatchObject({ ok: true });
  });
});
