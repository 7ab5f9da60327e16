import { GraphQLError, Kind, specifiedRules, validate, type ASTVisitor, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode, type ValidationContext } from 'graphql';
import { directiveEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { assertDocumentLimits } from './document-limits.js';
import { AnalyticsError } from './errors.js';

/**
 * Limits that stop abusive queries before they run. The body size, the token count (graphql-js stops
 * parsing past it) and the document's fields, aliases and directives (src/graphql/document-limits.ts) are
 * checked before validation, whose cost grows faster than the document. Depth is a validation rule (it
 * needs only the document, so mercurius caches the verdict with the parsed query). Complexity needs the
 * variables (`first: $n`), so it runs before execution with graphql-query-complexity: fields declare their
 * cost in the SDL with @complexity, other fields cost 1.
 */

export const LIMITS = Object.freeze({
  maxDepth: 8,
  maxComplexity: 5000,
  timeoutMs: 5000,
  /** Request body (HTTP) and WebSocket message size: the council page's largest query is under 400 bytes. */
  maxBodyBytes: 64 * 1024,
  /** ×10 GraphiQL's introspection query (183 tokens). */
  maxTokens: 2000,
  /** Selections with fragments expanded: ×2 GraphiQL's introspection query (229). */
  maxFields: 500,
  maxAliases: 30,
  maxDirectives: 20,
});

export type Limits = typeof LIMITS;

/** A validation rule refusing operations whose data fields nest deeper than `max` (introspection excluded). */
export function depthLimit(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
      if (!set) return 0;
      let deepest = 0;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          if (!s.name.value.startsWith('__')) deepest = Math.max(deepest, 1 + depthOf(s.selectionSet, seen));
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(s.selectionSet, seen));
        } else if (!seen.has(s.name.value)) {
          deepest = Math.max(deepest, depthOf(fragments.get(s.name.value)?.selectionSet, new Set([...seen, s.name.value])));
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) {
          context.reportError(new GraphQLError(`the query is ${depth} levels deep; the limit is ${max}`, { nodes: [node], extensions: { code: 'QUERY_TOO_DEEP', depth, max } }));
        }
      },
    };
  };
}

/** Throws QUERY_TOO_COMPLEX when the operation's estimated cost passes `max`. */
export function assertComplexity(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, max: number): void {
  let cost: number;
  try {
    cost = getComplexity({ schema, query: document, variables: variables ?? {}, estimators: [directiveEstimator(), simpleEstimator({ defaultComplexity: 1 })] });
  } catch (err) {
    // Bad variables: execution reports them properly.
    if (err instanceof GraphQLError) return;
    throw err;
  }
  if (cost > max) throw new AnalyticsError('QUERY_TOO_COMPLEX', `the query costs ${cost}; the limit is ${max}`, { cost, max });
}

/**
 * A subscription document's checks. mercurius validates what arrives over HTTP (with `validationRules`) but
 * executes a WebSocket subscription without validating it: an unknown field would be dropped silently and
 * no limit would apply. So the GraphQL rules, the depth limit and the complexity limit run here; the first
 * error goes back with its code (a limit's own, else GRAPHQL_VALIDATION_FAILED with every message).
 */
export function assertValidSubscription(schema: GraphQLSchema, document: DocumentNode, limits: Limits): void {
  assertDocumentLimits(document, limits);
  const errors = validate(schema, document, [...specifiedRules, depthLimit(limits.maxDepth)]);
  if (errors.length > 0) {
    const limit = errors.find((e) => typeof e.extensions.code === 'string');
    if (limit) throw limit;
    throw new AnalyticsError('GRAPHQL_VALIDATION_FAILED', errors.map((e) => e.message).join('; '));
  }
  // Subscription hooks are not given the variables; a variable-sized argument is counted at its default.
  assertComplexity(schema, document, undefined, limits.maxComplexity);
}
