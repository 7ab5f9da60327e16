import type { Knex } from 'knex';
import { monthRange } from '../budgets/period.js';
import { parseDecimal, sum, toMoney } from '../metering/money.js';

/**
 * Chargeback over the rollups (usage_monthly for a billing month not split by day, else usage_hourly, and
 * decisions_hourly): never the ledger. Sums are done by Postgres on numeric and come back as text, so money
 * and counts stay exact end to end. The pieces that need no database (periods, shares) are pure and
 * unit-tested on their own.
 */

export const DIMENSIONS = ['BU', 'USE_CASE', 'AGENT', 'MODEL', 'PROVIDER', 'DAY', 'MONTH'] as const;
export type ChargebackDimension = (typeof DIMENSIONS)[number];
export type ChargebackFilter = { bu?: string | null; useCase?: string | null; agent?: string | null; model?: string | null; provider?: string | null };

export type ChargebackSpec = {
  from: Date;
  to: Date;
  /**
   * A month asked for by name (YYYY-MM) is a billing period: the usage it bills, as the FOCUS export counts it.
   * That is [from, to) except for events that arrived after a month was closed (billed in the next open one).
   */
  period?: string;
  groupBy: readonly ChargebackDimension[];
  filter: ChargebackFilter;
  /** The BU the caller is limited to (a BU owner), applied in SQL on top of the filter. */
  scopeBu?: string;
};

export type ChargebackKey = { bu: string | null; useCase: string | null; agent: string | null; model: string | null; provider: string | null; day: string | null; month: string | null };
export type Totals = { calls: string; inputTokens: string; cachedInputTokens: string; cacheWriteTokens: string; outputTokens: string; cost: string };
export type ChargebackRow = Totals & { key: ChargebackKey; share: string };
export type ChargebackReport = {
  currency: string;
  from: Date;
  to: Date;
  rows: ChargebackRow[];
  totals: Totals & { partialCalls: string; errorCalls: string };
  denied: { calls: string; byCode: { code: string; calls: string }[] };
};

/** The ledger is in one currency today (prices are USD); a second currency would add a dimension. */
export const CURRENCY = 'USD';
export const SHARE_SCALE = 6;

const KEY_SQL: Record<ChargebackDimension, [keyof ChargebackKey, string]> = {
  BU: ['bu', 'bu_id'],
  USE_CASE: ['useCase', 'use_case_id'],
  AGENT: ['agent', 'agent_id'],
  MODEL: ['model', 'model_served'],
  PROVIDER: ['provider', 'provider'],
  DAY: ['day', `to_char(hour at time zone 'UTC', 'YYYY-MM-DD')`],
  // The month that bills the usage (FOCUS BillingPeriod): the usage's own month unless that month was closed first.
  MONTH: ['month', 'accounting_period'],
};

const FILTER_COLUMN: Record<keyof ChargebackFilter, string> = { bu: 'bu_id', useCase: 'use_case_id', agent: 'agent_id', model: 'model_served', provider: 'provider' };

const SUMS = [
  'coalesce(sum(calls), 0)::text as "calls"',
  'coalesce(sum(input_tokens), 0)::text as "inputTokens"',
  'coalesce(sum(cached_input_tokens), 0)::text as "cachedInputTokens"',
  'coalesce(sum(cache_write_tokens), 0)::text as "cacheWriteTokens"',
  'coalesce(sum(output_tokens), 0)::text as "outputTokens"',
  'coalesce(sum(cost), 0)::text as "cost"',
];

const PARTIAL_AND_ERROR_SUMS = ['coalesce(sum(partial_calls), 0)::text as "partialCalls"', 'coalesce(sum(error_calls), 0)::text as "errorCalls"'];

const COUNTS = ['calls', 'inputTokens', 'cachedInputTokens', 'cacheWriteTokens', 'outputTokens', 'partialCalls', 'errorCalls'] as const;

/** The rows' exact sums: counts as BigInt, money as a decimal. */
function totalsOf(rows: readonly Record<string, string | null>[]): ChargebackReport['totals'] {
  const counts = Object.fromEntries(COUNTS.map((k) => [k, rows.reduce((n, r) => n + BigInt(r[k] ?? 0), 0n).toString()])) as Record<(typeof COUNTS)[number], string>;
  return { ...counts, cost: toMoney(sum(rows.map((r) => r.cost ?? '0'))) };
}

export class ChargebackInputError extends Error {}

/** `period` (YYYY-MM) or from/to, in UTC; rollups are hourly, so from/to must fall on whole hours. */
export function resolvePeriod(args: { period?: string | null; from?: Date | null; to?: Date | null }): { from: Date; to: Date; period?: string } {
  if (args.period) {
    if (args.from || args.to) throw new ChargebackInputError('give either period or from/to, not both');
    try {
      return { ...monthRange(args.period), period: args.period };
    } catch (err) {
      throw new ChargebackInputError((err as Error).message);
    }
  }
  if (!args.from || !args.to) throw new ChargebackInputError('give period (YYYY-MM) or both from and to');
  if (args.to.getTime() <= args.from.getTime()) throw new ChargebackInputError('to must be after from');
  for (const d of [args.from, args.to]) {
    if (d.getTime() % 3_600_000 !== 0) throw new ChargebackInputError(`from and to must be whole hours (UTC); got ${d.toISOString()}`);
  }
  return { from: args.from, to: args.to };
}

/** part ÷ total, rounded half-even to `scale` decimals, exactly; 0 when the total is 0. */
export function share(part: string, total: string, scale = SHARE_SCALE): string {
  const p = parseDecimal(part);
  const t = parseDecimal(total);
  if (t.units === 0n) return formatUnits(0n, scale);
  // part/total = (p.units / 10^p.scale) / (t.units / 10^t.scale); scaled by 10^scale.
  const num = p.units * 10n ** BigInt(scale + t.scale);
  const den = t.units * 10n ** BigInt(p.scale);
  return formatUnits(divHalfEven(num, den), scale);
}

/**
 * Rows and denials for the spec: two statements over the rollups. The totals are the rows' exact sums (the
 * rows partition the same scope), so the period's rollup rows are read once.
 */
export async function runChargeback(db: Knex, spec: ChargebackSpec): Promise<ChargebackReport> {
  const dims = DIMENSIONS.filter((d) => spec.groupBy.includes(d));
  const keys = dims.map((d) => KEY_SQL[d]);
  const rowsQ = usageScope(db, spec).select([...keys.map(([alias, sql]) => db.raw(`${sql} as "${alias}"`)), db.raw([...SUMS, ...PARTIAL_AND_ERROR_SUMS].join(', '))]);
  if (keys.length > 0) rowsQ.groupByRaw(keys.map((_, i) => String(i + 1)).join(', ')).orderByRaw(keys.map((_, i) => String(i + 1)).join(', '));
  const deniedQ = decisionScope(db, spec).select('code', db.raw('sum(calls)::text as calls')).groupBy('code').orderBy('code');
  const [rows, denied] = await Promise.all([rowsQ, deniedQ]) as [Record<string, string | null>[], { code: string; calls: string }[]];
  const total = totalsOf(rows);
  return {
    currency: CURRENCY,
    from: spec.from,
    to: spec.to,
    rows: rows.map((r) => toRow(r, dims, total.cost)),
    totals: total,
    denied: { calls: denied.reduce((n, d) => n + BigInt(d.calls), 0n).toString(), byCode: denied },
  };
}

// A billing month not split by day is read from the monthly rollup (hundreds of rows, not a month of hours).
function usageScope(db: Knex, spec: ChargebackSpec): Knex.QueryBuilder {
  const q = spec.period === undefined
    ? db('usage_hourly').where('hour', '>=', spec.from).andWhere('hour', '<', spec.to)
    : db(spec.groupBy.includes('DAY') ? 'usage_hourly' : 'usage_monthly').where('accounting_period', spec.period);
  for (const [k, column] of Object.entries(FILTER_COLUMN) as [keyof ChargebackFilter, string][]) {
    const v = spec.filter[k];
    if (v != null) q.andWhere(column, v);
  }
  if (spec.scopeBu !== undefined) q.andWhere('bu_id', spec.scopeBu);
  return q;
}

function decisionScope(db: Knex, spec: ChargebackSpec): Knex.QueryBuilder {
  const q = db('decisions_hourly').where('hour', '>=', spec.from).andWhere('hour', '<', spec.to);
  if (spec.filter.bu != null) q.andWhere('bu_id', spec.filter.bu);
  if (spec.filter.useCase != null) q.andWhere('use_case_id', spec.filter.useCase);
  if (spec.filter.agent != null) q.andWhere('agent_id', spec.filter.agent);
  if (spec.scopeBu !== undefined) q.andWhere('bu_id', spec.scopeBu);
  return q;
}

function toRow(r: Record<string, string | null>, dims: readonly ChargebackDimension[], totalCost: string): ChargebackRow {
  const key: ChargebackKey = { bu: null, useCase: null, agent: null, model: null, provider: null, day: null, month: null };
  for (const d of dims) {
    const alias = KEY_SQL[d][0];
    key[alias] = r[alias] ?? null;
  }
  const cost = toMoney(r.cost!);
  return {
    key,
    calls: r.calls!, inputTokens: r.inputTokens!, cachedInputTokens: r.cachedInputTokens!,
    cacheWriteTokens: r.cacheWriteTokens!, outputTokens: r.outputTokens!,
    cost,
    share: share(cost, totalCost),
  };
}

function divHalfEven(n: bigint, d: bigint): bigint {
  const sign = (n < 0n) !== (d < 0n) ? -1n : 1n;
  const [a, b] = [n < 0n ? -n : n, d < 0n ? -d : d];
  const q = a / b;
  const twice = 2n * (a % b);
  const rounded = twice > b || (twice === b && q % 2n === 1n) ? q + 1n : q;
  return sign * rounded;
}

function formatUnits(units: bigint, scale: number): string {
  const neg = units < 0n;
  const digits = (neg ? -units : units).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}
