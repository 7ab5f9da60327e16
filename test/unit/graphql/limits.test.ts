import fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { assertComplexity, depthLimit } from '../../../src/graphql/limits.js';
import { SCHEMA_PATH } from '../../../src/graphql/plugin.js';
import { GQL_ERRORS } from '../../../src/graphql/errors.js';

// The CommonJS graphql, as mercurius and graphql-query-complexity load it at run time (vite would hand
// this file the ESM build, and graphql refuses schemas from "another realm").
const { buildSchema, parse, validate } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const schema = buildSchema(fs.readFileSync(SCHEMA_PATH, 'utf8'));

describe('depthLimit', () => {
  const errors = (q: string, max: number) => validate(schema, parse(q), [depthLimit(max)]);

  it('counts nesting through fragments, not introspection', () => {
    const q = 'query { businessUnits { ...U } } fragment U on BusinessUnit { useCases { bu { id } } }';
    expect(errors(q, 4)).toHaveLength(0);
    const e = errors(q, 3);
    expect(e).toHaveLength(1);
    expect(e[0]!.extensions.code).toBe('QUERY_TOO_DEEP');
    expect(errors('{ __schema { types { fields { type { ofType { ofType { name } } } } } } }', 2)).toHaveLength(0);
  });
});

describe('assertComplexity', () => {
  it('multiplies list costs by first, from literals and variables', () => {
    const q = parse('query($n: Int) { decisions(first: $n) { nodes { id code } } }');
    expect(() => assertComplexity(schema, q, { n: 10 }, 100)).not.toThrow();
    expect(() => assertComplexity(schema, q, { n: 500 }, 100)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }) }));
  });
});

describe('GraphQL error catalogue', () => {
  it('is listed in README', () => {
    const readme = fs.readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const code of Object.keys(GQL_ERRORS)) expect(readme, code).toContain(`\`${code}\``);
  });
});
