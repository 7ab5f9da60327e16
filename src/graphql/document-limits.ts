import { Kind, Lexer, Source, TokenKind, type ASTNode, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import { AnalyticsError } from './errors.js';

/**
 * What a document may hold before graphql-js validates it. Validation costs more than linear time in the
 * number of fields (OverlappingFieldsCanBeMerged compares fields that share a response name: 300,000
 * `__typename` blocked the event loop for 10 s), so these counts run first, in one pass over the document.
 *
 * Fields count every selection (`__typename` and introspection included) with fragments expanded at each
 * spread. Each fragment is counted once and its total reused at every later spread, so a fragment spread
 * many times, or spreading others that do (fan-out), costs one pass to count while its expansion is what
 * is compared against the limit. A spread that closes a cycle counts nothing: validation refuses cycles.
 */

export type DocumentSize = { fields: number; aliases: number; directives: number };
export type DocumentLimits = { maxFields: number; maxAliases: number; maxDirectives: number };

export function measureDocument(document: DocumentNode): DocumentSize {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const totals = new Map<string, DocumentSize>();
  const open = new Set<string>();

  const fragment = (name: string): DocumentSize => {
    const known = totals.get(name);
    if (known) return known;
    const def = fragments.get(name);
    if (!def || open.has(name)) return { fields: 0, aliases: 0, directives: 0 };
    open.add(name);
    const size = add(directivesOf(def), selections(def.selectionSet));
    open.delete(name);
    totals.set(name, size);
    return size;
  };

  const selections = (set: SelectionSetNode | undefined): DocumentSize => {
    let size: DocumentSize = { fields: 0, aliases: 0, directives: 0 };
    for (const s of set?.selections ?? []) {
      size = add(size, directivesOf(s));
      if (s.kind === Kind.FIELD) size = add(size, { fields: 1, aliases: s.alias ? 1 : 0, directives: 0 }, selections(s.selectionSet));
      else if (s.kind === Kind.INLINE_FRAGMENT) size = add(size, selections(s.selectionSet));
      else size = add(size, fragment(s.name.value));
    }
    return size;
  };

  let size: DocumentSize = { fields: 0, aliases: 0, directives: 0 };
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const variableDirectives = (def.variableDefinitions ?? []).reduce((n, v) => n + (v.directives?.length ?? 0), 0);
    size = add(size, directivesOf(def), { fields: 0, aliases: 0, directives: variableDirectives }, selections(def.selectionSet));
  }
  return size;
}

/** Throws the first limit the document passes, with its own code. */
export function assertDocumentLimits(document: DocumentNode, limits: DocumentLimits): void {
  const size = measureDocument(document);
  const check = (code: 'QUERY_TOO_MANY_FIELDS' | 'QUERY_TOO_MANY_ALIASES' | 'QUERY_TOO_MANY_DIRECTIVES', what: string, found: number, max: number) => {
    if (found > max) throw new AnalyticsError(code, `the query has ${found} ${what}; the limit is ${max}`, { found, max });
  };
  check('QUERY_TOO_MANY_ALIASES', 'aliases', size.aliases, limits.maxAliases);
  check('QUERY_TOO_MANY_DIRECTIVES', 'directives', size.directives, limits.maxDirectives);
  check('QUERY_TOO_MANY_FIELDS', 'fields (fragments expanded)', size.fields, limits.maxFields);
}

/**
 * Refuses a source with more than `max` tokens, reading at most max + 1 of them. HTTP queries get the same
 * limit from graphql-js itself (parse's maxTokens); mercurius parses a WebSocket subscription without it,
 * so its source is counted here (it is bounded by the WebSocket message size).
 */
export function assertTokenLimit(source: string, max: number): void {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) {
      if (++count > max) throw tooManyTokens(max);
    }
  } catch (err) {
    if (err instanceof AnalyticsError) throw err;
    // A lexical error: parsing reports it with its location.
  }
}

export function tooManyTokens(max: number): AnalyticsError {
  return new AnalyticsError('QUERY_TOO_MANY_TOKENS', `the query has more than ${max} tokens`, { max });
}

function directivesOf(node: ASTNode): DocumentSize {
  const directives = 'directives' in node ? (node.directives?.length ?? 0) : 0;
  return { fields: 0, aliases: 0, directives };
}

function add(...sizes: DocumentSize[]): DocumentSize {
  const total = { fields: 0, aliases: 0, directives: 0 };
  for (const s of sizes) {
    total.fields += s.fields;
    total.aliases += s.aliases;
    total.directives += s.directives;
  }
  return total;
}
