import { describe, expect, it } from 'vitest';
import { ChargebackInputError, resolvePeriod, share } from '../../../src/analytics/chargeback.js';

describe('resolvePeriod', () => {
  it('reads a month in UTC', () => {
    expect(resolvePeriod({ period: '2026-12' })).toEqual({ from: new Date('2026-12-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z'), period: '2026-12' });
  });

  it('takes whole-hour from/to and refuses the rest', () => {
    const from = new Date('2026-11-01T05:00:00Z');
    const to = new Date('2026-11-02T00:00:00Z');
    expect(resolvePeriod({ from, to })).toEqual({ from, to });
    for (const bad of [{}, { period: '2026-1' }, { period: '2026-11', from }, { from, to: from }, { from: new Date('2026-11-01T05:30:00Z'), to }, { from }]) {
      expect(() => resolvePeriod(bad)).toThrow(ChargebackInputError);
    }
  });
});

describe('share', () => {
  it('divides exactly and rounds half to even at 6 decimals', () => {
    expect(share('1.000000000000', '3.000000000000')).toBe('0.333333');
    expect(share('2', '3')).toBe('0.666667');
    expect(share('1', '8')).toBe('0.125000');
    expect(share('0.0000005', '1')).toBe('0.000000');
    expect(share('0.0000015', '1')).toBe('0.000002');
    expect(share('5', '5')).toBe('1.000000');
    expect(share('0', '0')).toBe('0.000000');
    expect(share('123456789012345678.000000000001', '246913578024691356.000000000002')).toBe('0.500000');
  });
});
