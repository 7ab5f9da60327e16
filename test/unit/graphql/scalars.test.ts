import { describe, expect, it } from 'vitest';
import { DateTime, Long, Money } from '../../../src/graphql/scalars.js';

describe('scalars', () => {
  it('serializes Money as an exact 12-decimal string, never a float', () => {
    expect(Money.serialize('0.1')).toBe('0.100000000000');
    expect(Money.serialize('123456789012.123456789012')).toBe('123456789012.123456789012');
    expect(() => Money.serialize('1e3')).toThrow();
  });

  it('serializes Long as a string beyond 2^53', () => {
    expect(Long.serialize('9007199254740993')).toBe('9007199254740993');
    expect(Long.serialize(12n)).toBe('12');
    expect(() => Long.serialize('1.5')).toThrow();
  });

  it('reads DateTime only with a zone', () => {
    expect((DateTime.parseValue('2026-11-01T00:00:00Z') as Date).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(() => DateTime.parseValue('2026-11-01T00:00:00')).toThrow();
    expect(DateTime.serialize(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
  });
});
