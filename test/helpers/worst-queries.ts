import { LIMITS } from '../../src/graphql/limits.js';

/**
 * The costliest documents tollgate's GraphQL limits still accept, one per way of spending the event loop:
 * shared by the alias-bomb e2e test and the GraphQL limits bench, so both measure the same worst case.
 * Each stays within every limit (body, tokens, aliases, directives, fields, depth, cost); the e2e test
 * checks that each is answered without errors.
 */

const repeat = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' ');

/** F0 selects __typename, Fk spreads F(k-1) twice (2^k fields). */
const FRAGMENTS = ['fragment F0 on Query { __typename }', ...Array.from({ length: 8 }, (_, k) => `fragment F${k + 1} on Query { ...F${k} ...F${k} }`)].join(' ');

const CHARGEBACK_FIELDS = 'key { bu useCase agent model provider day } calls inputTokens outputTokens cost share';

/** `period` names a month that holds the data of the run (chargeback and decisions read it). */
export function worstQueries(period: string): Record<string, string> {
  return {
    // Every field one response name: validation compares them pairwise (the bomb's shape, at the cap).
    sameName: `{ ${'__typename '.repeat(LIMITS.maxFields)} }`,
    // Fan-out: 256 + 128 + 64 + 32 + 16 + 4 = 500 fields from nine fragments.
    fanOut: `{ ...F8 ...F7 ...F6 ...F5 ...F4 ...F2 } ${FRAGMENTS}`,
    aliasesAndDirectives: `{ ${repeat(LIMITS.maxDirectives, (i) => `a${i}: __typename @include(if: true)`)} ${repeat(LIMITS.maxAliases - LIMITS.maxDirectives, (i) => `b${i}: __typename`)} ${'__typename '.repeat(LIMITS.maxFields - LIMITS.maxAliases)} }`,
    // The widest chargeback, aliased up to the cost limit (1,000 each): every row of the month at the finest grain.
    chargebacks: `{ ${repeat(4, (i) => `c${i}: chargeback(period: "${period}", groupBy: [BU, USE_CASE, AGENT, MODEL, PROVIDER, DAY]) { rows { ${CHARGEBACK_FIELDS} } }`)} }`,
    // The decision log's largest page whose cost fits, every field and relation.
    decisions: `{ decisions(first: 180) { nodes { id requestId ts provider endpoint buId useCaseId agentId sessionId model httpStatus code message reasons policyRevision budgetTier bu { name } useCase { name } agent { name } } } }`,
    // Depth 8 through the catalog's relations.
    deep: '{ businessUnits { useCases { bu { useCases { bu { useCases { bu { name } } } } } } } }',
  };
}
