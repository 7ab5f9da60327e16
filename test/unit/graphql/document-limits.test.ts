import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { assertDocumentLimits, assertTokenLimit, measureDocument } from '../../../src/graphql/document-limits.js';
import { LIMITS } from '../../../src/graphql/limits.js';

// The CommonJS graphql, as mercurius loads it (see limits.test.ts).
const { parse, getIntrospectionQuery } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as { extensions?: { code?: string } }).extensions?.code;
  }
};

/** F0 selects one field; each Fk spreads F(k-1) twice: Fn expands to 2^n fields. */
function fanOut(n: number): string {
  const defs = ['fragment F0 on Query { __typename }'];
  for (let k = 1; k <= n; k++) defs.push(`fragment F${k} on Query { ...F${k - 1} ...F${k - 1} }`);
  return `{ ...F${n} } ${defs.join(' ')}`;
}

describe('measureDocument', () => {
  it('counts __typename and introspection fields, and their aliases', () => {
    expect(measureDocument(parse('{ a: __typename b: __typename __schema { types { name } } viewer { role } }'))).toEqual({ fields: 7, aliases: 2, directives: 0 });
  });

  it('expands a fragment at each spread, counting each fragment once', () => {
    expect(measureDocument(parse('{ viewer { ...V ...V } x: viewer { ...V } } fragment V on Viewer { role r: bu }'))).toEqual({ fields: 8, aliases: 4, directives: 0 });
    // 2^40 fields from 41 fragments: expanding them would never end; counting them takes one pass.
    expect(measureDocument(parse(fanOut(40))).fields).toBe(2 ** 40);
  });

  it('counts a spread that closes a fragment cycle as nothing (validation refuses the cycle)', () => {
    const size = measureDocument(parse('{ ...A } fragment A on Query { viewer { role } ...B } fragment B on Query { __typename ...A }'));
    expect(size).toEqual({ fields: 3, aliases: 0, directives: 0 });
  });

  it('counts directives wherever they stand, fragments expanded', () => {
    const q = 'query Q($v: Boolean = true @deprecated) @skip(if: false) { viewer @include(if: $v) { role @skip(if: false) } ...F @include(if: true) ...F } fragment F on Query @deprecated { __typename @include(if: true) }';
    // variable 1 + operation 1 + field 2 + spreads 1 + fragment (own 1 + field 1) × 2 spreads = 9
    expect(measureDocument(parse(q)).directives).toBe(9);
  });
});

describe('assertDocumentLimits', () => {
  const limits = { maxFields: 10, maxAliases: 2, maxDirectives: 1 };

  it('refuses each limit with its own code', () => {
    expect(codeOf(() => assertDocumentLimits(parse('{ a: __typename b: __typename c: __typename }'), limits))).toBe('QUERY_TOO_MANY_ALIASES');
    expect(codeOf(() => assertDocumentLimits(parse('{ __typename @skip(if: false) __typename @skip(if: false) }'), limits))).toBe('QUERY_TOO_MANY_DIRECTIVES');
    expect(codeOf(() => assertDocumentLimits(parse(fanOut(4)), limits))).toBe('QUERY_TOO_MANY_FIELDS');
    expect(codeOf(() => assertDocumentLimits(parse(fanOut(3)), limits))).toBeNull();
  });

  it("lets GraphiQL's introspection query through the default limits", () => {
    expect(codeOf(() => assertDocumentLimits(parse(getIntrospectionQuery({ descriptions: true, directiveIsRepeatable: true, inputValueDeprecation: true })), LIMITS))).toBeNull();
  });
});

describe('assertTokenLimit', () => {
  it('counts tokens up to the limit and leaves lexical errors to the parser', () => {
    expect(codeOf(() => assertTokenLimit('{ viewer { role } }', 6))).toBeNull();
    expect(codeOf(() => assertTokenLimit('{ viewer { role } }', 5))).toBe('QUERY_TOO_MANY_TOKENS');
    expect(codeOf(() => assertTokenLimit('{ "unterminated', 5))).toBeNull();
  });
});
