import { describe, expect, it } from 'vitest';
import { forecastBudget, periodEnd, ratioOf, thresholdsFrom, tierOf, type ForecastInput } from '../../../src/analytics/forecast.js';
import data from '../../../policies/tollgate/config/data.json' with { type: 'json' };

const T = thresholdsFrom({ config: data })!;
const NOV = new Date('2026-11-01T00:00:00Z');
const DEC = new Date('2026-12-01T00:00:00Z');
const at = (iso: string) => new Date(iso);
const month = (over: Partial<ForecastInput>): ForecastInput => ({ spent: '0', limit: '3000', periodStart: NOV, periodEnd: DEC, asOf: NOV, thresholds: T, ...over });

describe('thresholds', () => {
  it('reads the policy data tiers', () => {
    expect(T).toEqual({ notice: 0.5, warning: 0.8, soft_cap: 1, hard_cap: 1.1 });
  });
  it('is null when the data has no four numbers', () => {
    expect(thresholdsFrom({ config: { budget: { tiers: { notice: 0.5 } } } })).toBeNull();
    expect(thresholdsFrom(null)).toBeNull();
  });
});

describe('tierOf', () => {
  it('applies the policy rule: at or above limit × threshold, exactly', () => {
    expect(tierOf('0', '100', T)).toBe('OK');
    expect(tierOf('49.999999999999', '100', T)).toBe('OK');
    expect(tierOf('50', '100', T)).toBe('NOTICE');
    expect(tierOf('80', '100', T)).toBe('WARNING');
    expect(tierOf('100', '100', T)).toBe('SOFT_CAP');
    expect(tierOf('109.99', '100', T)).toBe('SOFT_CAP');
    expect(tierOf('110', '100', T)).toBe('HARD_CAP');
  });
  it('NONE without a limit, HARD_CAP at a zero limit, UNKNOWN without thresholds', () => {
    expect(tierOf('1', null, T)).toBe('NONE');
    expect(tierOf('0', '0', T)).toBe('HARD_CAP');
    expect(tierOf('1', '100', null)).toBe('UNKNOWN');
  });
  it('ratio has 6 decimals and is null without a positive limit', () => {
    expect(ratioOf('2', '3')).toBe('0.666667');
    expect(ratioOf('1', null)).toBeNull();
    expect(ratioOf('1', '0')).toBeNull();
  });
});

describe('periodEnd', () => {
  it('day, week, month and quarter, in UTC', () => {
    expect(periodEnd('day', at('2026-11-30T00:00:00Z')).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(periodEnd('week', at('2026-11-30T00:00:00Z')).toISOString()).toBe('2026-12-07T00:00:00.000Z');
    expect(periodEnd('month', at('2026-02-01T00:00:00Z')).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(periodEnd('quarter', at('2026-10-01T00:00:00Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});

describe('forecastBudget', () => {
  it('projects linearly: a third of the month gone, a third of the limit spent → the limit', () => {
    const f = forecastBudget(month({ spent: '1000', asOf: at('2026-11-11T00:00:00Z') }));
    expect(f).toMatchObject({ method: 'LINEAR', projectedSpend: '3000', projectedRatio: '1.000000', projectedTier: 'SOFT_CAP' });
    // 3300 (the hard cap) at 100/day from Nov 1: Dec 3, past the month: null.
    expect(f.exhaustsAt).toBeNull();
  });

  it('says when the hard cap falls within the period', () => {
    // 1650 in 5 days = 330/day; 3300 at day 10.
    const f = forecastBudget(month({ spent: '1650', asOf: at('2026-11-06T00:00:00Z') }));
    expect(f.projectedTier).toBe('HARD_CAP');
    expect(f.exhaustsAt?.toISOString()).toBe('2026-11-11T00:00:00.000Z');
  });

  it('has no rate at the very start of the period', () => {
    expect(forecastBudget(month({ spent: '0' }))).toEqual({ projectedSpend: null, projectedRatio: null, projectedTier: 'UNKNOWN', exhaustsAt: null, method: 'TOO_EARLY' });
  });

  it('zero spend projects zero and never exhausts', () => {
    expect(forecastBudget(month({ asOf: at('2026-11-20T00:00:00Z') }))).toMatchObject({ projectedSpend: '0', projectedTier: 'OK', exhaustsAt: null, method: 'LINEAR' });
  });

  it('already past the hard cap: exhausted now', () => {
    const asOf = at('2026-11-03T00:00:00Z');
    const f = forecastBudget(month({ spent: '3300.5', asOf }));
    expect(f.exhaustsAt).toEqual(asOf);
    expect(f.projectedTier).toBe('HARD_CAP');
  });

  it('after the period the projection is the actual', () => {
    expect(forecastBudget(month({ spent: '1234.5', asOf: at('2027-01-15T00:00:00Z') }))).toMatchObject({ method: 'PERIOD_ENDED', projectedSpend: '1234.5', projectedRatio: '0.411500' });
  });

  it('works on day, week and quarter periods', () => {
    const dayStart = at('2026-11-05T00:00:00Z');
    // 12 in 6 h = 2/h → 48 by midnight; the hard cap (44) at 22:00.
    const day = forecastBudget({ spent: '12', limit: '40', periodStart: dayStart, periodEnd: periodEnd('day', dayStart), asOf: at('2026-11-05T06:00:00Z'), thresholds: T });
    expect(day).toMatchObject({ projectedSpend: '48', projectedRatio: '1.200000', projectedTier: 'HARD_CAP' });
    expect(day.exhaustsAt?.toISOString()).toBe('2026-11-05T22:00:00.000Z');
    const weekStart = at('2026-11-02T00:00:00Z');
    const week = forecastBudget({ spent: '1000', limit: '7000', periodStart: weekStart, periodEnd: periodEnd('week', weekStart), asOf: at('2026-11-03T00:00:00Z'), thresholds: T });
    expect(week).toMatchObject({ projectedSpend: '7000', projectedRatio: '1.000000', exhaustsAt: null });
    const qStart = at('2026-10-01T00:00:00Z');
    const q = forecastBudget({ spent: '46000', limit: '100000', periodStart: qStart, periodEnd: periodEnd('quarter', qStart), asOf: at('2026-11-16T00:00:00Z'), thresholds: T });
    expect(q).toMatchObject({ projectedSpend: '92000', projectedTier: 'WARNING', exhaustsAt: null });
  });

  it('keeps token budgets whole and money exact', () => {
    expect(forecastBudget(month({ spent: '1000000', limit: '50000000', asOf: at('2026-11-16T00:00:00Z') })).projectedSpend).toBe('2000000');
    expect(forecastBudget(month({ spent: '0.000000000003', asOf: at('2026-11-16T00:00:00Z') })).projectedSpend).toBe('0.000000000006');
  });
});
