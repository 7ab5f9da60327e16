import { describe, expect, it } from 'vitest';
import { costPerOutcome, divide } from '../../../src/analytics/outcomes.js';
import { parseDecimal, formatDecimal } from '../../../src/metering/money.js';

const at = (d: string) => new Date(d);
const point = (value: string) => ({ ts: at('2026-01-01'), value });
const base = { cost: '1234.567890123456', direction: 'increase' as const, hasPoints: true };

describe('costPerOutcome', () => {
  it('divides cost by the change, exactly, rounded half-even to 12 decimals (hand-computed)', () => {
    // 1234.567890123456 ÷ (0.2125 − 0.1834 = 0.0291) = 42425.01340630432989… → 42425.013406304330
    const r = costPerOutcome({ ...base, start: point('0.1834'), end: point('0.2125') });
    expect(r).toMatchObject({ cost: '1234.567890123456', delta: '0.0291', improvement: '0.0291', ratio: '42425.013406304330', reason: null });
  });

  it('counts a fall as the improvement of a decrease metric (lower is better)', () => {
    // handle time 300 s → 240 s: improvement 60; 90 ÷ 60 = 1.5
    const r = costPerOutcome({ cost: '90', direction: 'decrease', hasPoints: true, start: point('300'), end: point('240') });
    expect(r).toMatchObject({ delta: '-60', improvement: '60', ratio: '1.500000000000', reason: null });
    expect(costPerOutcome({ cost: '90', direction: 'decrease', hasPoints: true, start: point('240'), end: point('300') }).reason).toBe('NEGATIVE_DELTA');
  });

  it('gives the reason instead of a ratio', () => {
    expect(costPerOutcome({ ...base, hasPoints: false, start: null, end: null }).reason).toBe('NO_DATA');
    expect(costPerOutcome({ ...base, start: null, end: point('1') }).reason).toBe('MISSING_START');
    expect(costPerOutcome({ ...base, start: point('1'), end: null }).reason).toBe('MISSING_END');
    expect(costPerOutcome({ ...base, start: point('1.50'), end: point('1.5') })).toMatchObject({ delta: '0.00', ratio: null, reason: 'ZERO_DELTA' });
    expect(costPerOutcome({ ...base, start: point('2'), end: point('1') })).toMatchObject({ delta: '-1', ratio: null, reason: 'NEGATIVE_DELTA' });
  });

  it('costs nothing per outcome when nothing was spent', () => {
    expect(costPerOutcome({ ...base, cost: '0', start: point('1'), end: point('2') }).ratio).toBe('0.000000000000');
  });
});

describe('divide', () => {
  it('rounds half to even and keeps signs', () => {
    const d = (a: string, b: string, s: number) => formatDecimal(divide(parseDecimal(a), parseDecimal(b), s));
    expect(d('1', '3', 4)).toBe('0.3333');
    expect(d('2', '3', 4)).toBe('0.6667');
    expect(d('0.125', '1', 2)).toBe('0.12');
    expect(d('0.135', '1', 2)).toBe('0.14');
    expect(d('-1', '8', 2)).toBe('-0.12');
    expect(d('1', '-4', 1)).toBe('-0.2');
    expect(() => d('1', '0', 2)).toThrow(RangeError);
  });
});
