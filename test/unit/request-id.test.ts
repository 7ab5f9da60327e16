import { describe, expect, it } from 'vitest';
import { requestId } from '../../src/gateway/request-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

describe('request ids', () => {
  it('are UUIDv7: version 7, RFC variant, the time in their first 48 bits', () => {
    const at = Date.UTC(2026, 10, 30, 5, 27, 55, 123);
    const id = requestId(at);
    expect(id).toMatch(UUID_V7);
    expect(millisOf(id)).toBe(at);
    expect(millisOf(requestId(0))).toBe(0);
    expect(millisOf(requestId(2 ** 48 - 1))).toBe(2 ** 48 - 1);
    const now = Date.now();
    expect(millisOf(requestId())).toBeGreaterThanOrEqual(now);
  });

  it('sort by time across milliseconds, and are distinct within one', () => {
    const start = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 2000 }, (_, i) => requestId(start + i));
    expect([...ids].sort()).toEqual(ids);
    const sameMillisecond = new Set(Array.from({ length: 100_000 }, () => requestId(start)));
    expect(sameMillisecond.size).toBe(100_000);
  });
});
