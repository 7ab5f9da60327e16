import { parse } from 'lossless-json';
import { formatDecimal, type Decimal } from '../metering/money.js';
import { ReportError } from './types.js';

/**
 * Report bodies are parsed with every JSON number kept as its text (lossless-json): OpenAI's costs are JSON
 * numbers such as 0.06468000000000001, and a count may pass 2^53; JSON.parse would go through a binary float.
 */
export function parseReportJson(text: string): unknown {
  try {
    return parse(text, null, (digits) => digits);
  } catch (err) {
    throw new ReportError(`the report is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

const JSON_NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** A JSON number's text (exponent included, as Python writes 1.5e-05) as an exact decimal. */
export function decimalOf(text: unknown, what: string): Decimal {
  const m = typeof text === 'string' ? JSON_NUMBER.exec(text) : null;
  if (!m) throw new ReportError(`${what} is not a number: ${JSON.stringify(text)}`);
  const [, sign, whole = '', frac = '', exp = '0'] = m;
  const units = BigInt(whole + frac) * (sign === '-' ? -1n : 1n);
  const scale = frac.length - Number(exp);
  return scale >= 0 ? { units, scale } : { units: units * 10n ** BigInt(-scale), scale: 0 };
}

export function decimalText(text: unknown, what: string): string {
  return formatDecimal(decimalOf(text, what));
}

/** A token or request count: a whole number, absent or null meaning 0. */
export function countOf(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new ReportError(`${what} is not a whole number: ${JSON.stringify(value)}`);
  return n;
}

/** An id or label: a string, or null when absent. */
export function textOf(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function recordOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ReportError(`${what} is not an object`);
  return value as Record<string, unknown>;
}

export function arrayOf(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new ReportError(`${what} is not a list`);
  return value;
}
