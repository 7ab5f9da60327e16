import { describe, expect, it } from 'vitest';
import { MAX_TEXT_BYTES, cleanText, sanitizeRecord } from '../../../src/metering/sanitize.js';
import type { UsageEvent } from '../../../src/metering/types.js';
import { decisionRecord, usageEvent } from '../../integration/fixtures/events.js';

describe('sanitizing a record Postgres refused', () => {
  it('removes control characters and lone surrogates, and cuts text at MAX_TEXT_BYTES of UTF-8 on a character boundary', () => {
    expect(cleanText('a\u0000b\u001fc\u007fd\u0085e')).toBe('abcde');
    expect(cleanText('x\uD800y\uDC00z')).toBe('x\uFFFDy\uFFFDz');
    expect(cleanText('👍'.repeat(100))).toBe('👍'.repeat(MAX_TEXT_BYTES / 4));
    expect(Buffer.byteLength(cleanText('é'.repeat(1000)))).toBe(MAX_TEXT_BYTES);
    expect(cleanText('ünï — 日本 ✓')).toBe('ünï — 日本 ✓');
  });

  it('makes a usage event\'s numbers valid and flags it', () => {
    const bad = { ...usageEvent(1), status: null, cost: 'not money', input_tokens: 1e20, price_id: 2 ** 40, tools: ['ok', 'no spaces'] } as unknown as UsageEvent;
    expect(sanitizeRecord(bad)).toMatchObject({ status: 0, cost: '0', input_tokens: 0, price_id: null, tools: ['ok'], flags: ['sanitized'] });
  });

  it('keeps a record it cannot improve as it is (null), so that a refusal for another reason is not written twice', () => {
    expect(sanitizeRecord(usageEvent(2))).toBeNull();
    expect(sanitizeRecord(decisionRecord(2))).toBeNull();
  });

  it('cleans a decision\'s tags, message and reasons', () => {
    const copy = sanitizeRecord(decisionRecord(3, { bu_id: 'b\u0000u', reasons: [{ code: 'x\u0000', message: 'y' }] }));
    expect(copy).toMatchObject({ bu_id: 'bu', reasons: [{ code: 'x', message: 'y' }] });
  });
});
