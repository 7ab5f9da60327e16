import { describe, expect, it } from 'vitest';
import { AuthFailureLimit, sourceKey } from '../../../src/identity/failure-limit.js';

describe('AuthFailureLimit', () => {
  it('limits a source from its limit-th failure to the end of its window', () => {
    const limit = new AuthFailureLimit({ limit: 3, windowMs: 60_000 });
    expect([limit.failed('10.0.0.1', 0), limit.failed('10.0.0.1', 1000)]).toEqual([false, false]);
    expect(limit.retryAfter('10.0.0.1', 1000)).toBe(0);
    expect(limit.failed('10.0.0.1', 2000)).toBe(true);
    expect(limit.retryAfter('10.0.0.1', 2000)).toBe(58);
    expect(limit.retryAfter('10.0.0.2', 2000)).toBe(0);
    expect(limit.retryAfter('10.0.0.1', 60_000)).toBe(0);
    expect(limit.failed('10.0.0.1', 60_000)).toBe(false);
  });

  it('remembers credentials that authenticated, and nothing at all when off', () => {
    const on = new AuthFailureLimit({ limit: 1, windowMs: 1000 });
    on.trust('abc');
    expect(on.isTrusted('abc')).toBe(true);
    expect(on.isTrusted('abd')).toBe(false);
    const off = new AuthFailureLimit({ limit: 0, windowMs: 1000 });
    expect(off.failed('10.0.0.1')).toBe(false);
    expect(off.retryAfter('10.0.0.1')).toBe(0);
    off.trust('abc');
    expect(off.isTrusted('abc')).toBe(false);
  });

  it('keeps at most maxSources sources, dropping the least recently failing', () => {
    const limit = new AuthFailureLimit({ limit: 1, windowMs: 60_000, maxSources: 2 });
    limit.failed('10.0.0.1', 0);
    limit.failed('10.0.0.2', 0);
    limit.failed('10.0.0.3', 0);
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((s) => limit.retryAfter(s, 0) > 0)).toEqual([false, true, true]);
  });
});

describe('sourceKey', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:0db8:0001:0002:ffff::', '2001:db8:1:2::/64'],
  ])('%s counts as %s', (address, key) => {
    expect(sourceKey(address)).toBe(key);
  });
});
