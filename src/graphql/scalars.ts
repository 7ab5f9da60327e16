import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { toMoney } from '../metering/money.js';

/**
 * Custom scalars. Money, Decimal and Long are strings on the wire: JSON numbers are IEEE doubles in most
 * clients (JavaScript, Excel, many BI tools), so 0.1 + 0.2 or a count past 2^53 would silently change.
 * A string keeps every digit; clients that want arithmetic parse it with a decimal library.
 */

const DECIMAL = /^-?\d+(\.\d+)?$/;
const INTEGER = /^-?\d+$/;

function stringScalar(name: string, description: string, shape: RegExp, normalize: (s: string) => string = (s) => s): GraphQLScalarType {
  const check = (value: unknown): string => {
    const s = typeof value === 'bigint' || typeof value === 'number' ? String(value) : value;
    if (typeof s !== 'string' || !shape.test(s)) throw new GraphQLError(`${name} must be a decimal string, got ${JSON.stringify(String(value))}`, { extensions: { code: 'BAD_USER_INPUT' } });
    return normalize(s);
  };
  return new GraphQLScalarType({
    name,
    description,
    serialize: check,
    parseValue: check,
    parseLiteral: (ast: ValueNode) => {
      if (ast.kind !== Kind.STRING && ast.kind !== Kind.INT) throw new GraphQLError(`${name} must be a string`, { extensions: { code: 'BAD_USER_INPUT' } });
      return check(ast.value);
    },
  });
}

/** Money: the ledger's exact scale (12 decimals), as a string. */
export const Money = stringScalar('Money', 'Exact decimal money, as a string', DECIMAL, toMoney);
export const Decimal = stringScalar('Decimal', 'Exact decimal, as a string', DECIMAL);
/** Long: an integer of any size, as a string (int8 sums are numeric in Postgres and can pass 2^53). */
export const Long = stringScalar('Long', 'Integer of any size, as a string', INTEGER, (s) => BigInt(s).toString());

export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO 8601 instant, serialized in UTC',
  serialize(value: unknown) {
    const d = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(d.getTime())) throw new GraphQLError('not a date');
    return d.toISOString();
  },
  parseValue: parseDateTime,
  parseLiteral(ast: ValueNode) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be an ISO 8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
    return parseDateTime(ast.value);
  },
});

// A zone is required: "2026-11-01T00:00" would otherwise be read in the server's local time.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/;

function parseDateTime(value: unknown): Date {
  const d = typeof value === 'string' && ISO_WITH_ZONE.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new GraphQLError(`DateTime must be ISO 8601 with a zone (e.g. 2026-11-01T00:00:00Z), got ${JSON.stringify(value)}`, { extensions: { code: 'BAD_USER_INPUT' } });
  return d;
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Arbitrary JSON (output only)',
  serialize: (value: unknown) => value,
  parseValue: () => {
    throw new GraphQLError('JSON is output only', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});

export const scalarResolvers = { Money, Decimal, Long, DateTime, JSON: JSONScalar };
