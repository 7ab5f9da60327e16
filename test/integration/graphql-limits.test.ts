import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { LIMITS } from '../../src/graphql/limits.js';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';

const { getIntrospectionQuery } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

let h: AnalyticsHarness;
let owner: string;

beforeAll(async () => {
  h = await startAnalytics();
  owner = await h.token('bu-owner', 'marketing');
});
afterAll(async () => h?.close());

type Answer = { status: number; code: string | undefined; body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } };

async function post(token: string | null, payload: string): Promise<Answer> {
  const res = await h.app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, payload });
  const body = res.json() as Answer['body'];
  return { status: res.statusCode, code: body.errors?.[0]?.extensions?.code, body };
}
const query = (token: string | null, q: string) => post(token, JSON.stringify({ query: q }));
const aliases = (n: number, field = '__typename') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

describe('GraphQL document limits over HTTP', () => {
  it('refuses the 300,000-alias bomb of a BU owner with 413 QUERY_TOO_LARGE, before reading it as GraphQL', async () => {
    const bomb = aliases(300_000);
    expect(Buffer.byteLength(bomb)).toBeGreaterThan(LIMITS.maxBodyBytes);
    const r = await query(owner, bomb);
    expect(r.status).toBe(413);
    expect(r.code).toBe('QUERY_TOO_LARGE');
    expect(r.body.data ?? null).toBeNull();
    // Anonymous: the same answer (the size is checked first, and says nothing about the caller).
    expect((await query(null, bomb)).code).toBe('QUERY_TOO_LARGE');
  });

  it('stops parsing past the token limit: QUERY_TOO_MANY_TOKENS', async () => {
    const q = `{ ${'__typename '.repeat(LIMITS.maxTokens)} }`;
    expect(Buffer.byteLength(q)).toBeLessThan(LIMITS.maxBodyBytes);
    const r = await query(owner, q);
    expect(r).toMatchObject({ status: 400, code: 'QUERY_TOO_MANY_TOKENS' });
    expect(r.body.errors![0]!.message).toBe(`the query has more than ${LIMITS.maxTokens} tokens`);
  });

  it('counts aliases, fields (fragments expanded) and directives, each with its code', async () => {
    expect(await query(owner, aliases(LIMITS.maxAliases + 1))).toMatchObject({ status: 400, code: 'QUERY_TOO_MANY_ALIASES' });
    expect((await query(owner, aliases(LIMITS.maxAliases))).body).toMatchObject({ data: { a0: 'Query' } });
    // 9 fragments, 2 spreads each: 2^9 = 512 __typename in a few dozen tokens.
    const defs = ['fragment F0 on Query { __typename }', ...Array.from({ length: 9 }, (_, k) => `fragment F${k + 1} on Query { ...F${k} ...F${k} }`)];
    expect(await query(owner, `{ ...F9 } ${defs.join(' ')}`)).toMatchObject({ status: 400, code: 'QUERY_TOO_MANY_FIELDS' });
    expect(await query(owner, `{ ...F8 } ${defs.slice(0, 9).join(' ')}`)).toMatchObject({ status: 200 });
    const directives = `{ ${Array.from({ length: LIMITS.maxDirectives + 1 }, () => '__typename @include(if: true)').join(' ')} }`;
    expect(await query(owner, directives)).toMatchObject({ status: 400, code: 'QUERY_TOO_MANY_DIRECTIVES' });
  });

  it("serves GraphiQL's introspection query", async () => {
    const r = await query(owner, getIntrospectionQuery({ descriptions: true, directiveIsRepeatable: true }));
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
  });

  it('still asks an anonymous caller for a token first when the body is within the limit', async () => {
    expect(await query(null, aliases(LIMITS.maxAliases + 1))).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });
});
