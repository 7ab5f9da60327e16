import { describe, expect, it } from 'vitest';
import {
  add,
  addMoney,
  compare,
  costPerMillion,
  formatDecimal,
  parseDecimal,
  rescale,
  sum,
  toMoney,
  toNumber,
  ZERO_MONEY,
} from '../../../src/metering/money.js';

describe('money', () => {
  it('parses and formats decimals without losing digits', () => {
    expect(parseDecimal('3.00000000')).toEqual({ units: 300000000n, scale: 8 });
    expect(parseDecimal('-0.5')).toEqual({ units: -5n, scale: 1 });
    expect(parseDecimal('.25')).toEqual({ units: 25n, scale: 2 });
    expect(parseDecimal('42')).toEqual({ units: 42n, scale: 0 });
    expect(formatDecimal(parseDecimal('0.000000000001'))).toBe('0.000000000001');
    expect(formatDecimal(parseDecimal('-12.340'))).toBe('-12.340');
    expect(formatDecimal(parseDecimal('123456789012.123456789012'))).toBe('123456789012.123456789012');
  });

  it('rejects text that is not a plain decimal', () => {
    for (const bad of ['', '.', '-', '1e-7', '1.2.3', 'abc', 'NaN', '1,5']) {
      expect(() => parseDecimal(bad), bad).toThrow(TypeError);
    }
  });

  it('adds exactly where floats drift', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(addMoney('0.1', '0.2')).toBe('0.300000000000');
    const many = sum(Array.from({ length: 1000 }, () => '0.000000000001'));
    expect(toMoney(many)).toBe('0.000000001000');
    expect(formatDecimal(add('1.5', '-2.25'))).toBe('-0.75');
  });

  it('multiplies tokens by a per-million price exactly', () => {
    expect(formatDecimal(costPerMillion(1_234_567, '3'))).toBe('3.703701');
    expect(formatDecimal(costPerMillion(1, '0.00000001'))).toBe('0.00000000000001');
    expect(toMoney(costPerMillion(2 ** 53 - 1, '15.00000000'))).toBe('135107988821.114865000000');
    expect(() => costPerMillion(1.5, '3')).toThrow(RangeError);
  });

  it('rounds half to even only when the scale drops below the value', () => {
    expect(toMoney('0.0000000000015')).toBe('0.000000000002');
    expect(toMoney('0.0000000000025')).toBe('0.000000000002');
    expect(toMoney('0.00000000000251')).toBe('0.000000000003');
    expect(toMoney('-0.0000000000015')).toBe('-0.000000000002');
    expect(toMoney('-0.0000000000025')).toBe('-0.000000000002');
    expect(toMoney('0.00000000000049')).toBe(ZERO_MONEY);
    expect(formatDecimal(rescale('1.5', 0))).toBe('2');
    expect(formatDecimal(rescale('2.5', 0))).toBe('2');
    expect(toMoney('7')).toBe('7.000000000000');
  });

  it('gives back a money string as it is, and only one in the exact form it would make', () => {
    const money = '12.345678901234';
    expect(toMoney(money)).toBe(money);
    expect(toMoney('-0.000000000001')).toBe('-0.000000000001');
    expect(toMoney('-0.000000000000')).toBe(ZERO_MONEY);
    expect(toMoney('007.000000000000')).toBe('7.000000000000');
    expect(toMoney('+1.000000000000')).toBe('1.000000000000');
    expect(toMoney(' 1.000000000000')).toBe('1.000000000000');
    expect(() => toMoney('1.00000000000x')).toThrow(TypeError);
  });

  it('compares across scales and converts to a number for ratios', () => {
    expect(compare('1.10', '1.1')).toBe(0);
    expect(compare('1.000000000001', '1')).toBe(1);
    expect(compare('-3', '2')).toBe(-1);
    expect(toNumber('80.000000000000') / toNumber('100')).toBe(0.8);
  });

  it('reads decimal text as the number its exact decimal makes, and refuses what is not decimal text', () => {
    for (const text of ['0.000123450000', '.5', '5.', '+1.25', ' 007.10 ', '-0.000000000001', '123456789012.123456789012', '0.1', '1']) {
      expect(toNumber(text)).toBe(Number(formatDecimal(parseDecimal(text))));
    }
    expect(toNumber({ units: 125n, scale: 2 })).toBe(1.25);
    for (const bad of ['1e3', 'abc', '', '.', '0x10', 'Infinity', '1.2.3']) expect(() => toNumber(bad)).toThrow(TypeError);
  });
});
