import mercurius from 'mercurius';
import { GraphQLError, type ExecutionResult } from 'graphql';

/**
 * The GraphQL API's error catalogue: each code has one HTTP status (used when the error stops the whole
 * request; an error inside a field leaves the response at 200 with partial data, as GraphQL over HTTP
 * says) and one default message. README's GraphQL section lists the same codes.
 */
export const GQL_ERRORS = {
  UNAUTHENTICATED: { status: 401, message: 'Send an API token as Authorization: Bearer tga_… (tollgate token create).' },
  FORBIDDEN: { status: 403, message: 'Your API token does not allow this.' },
  BAD_USER_INPUT: { status: 400, message: 'An argument is not valid.' },
  NOT_FOUND: { status: 404, message: 'No such item.' },
  INVALID_TRANSITION: { status: 409, message: 'The item is not in a state that allows this change.' },
  QUERY_TOO_DEEP: { status: 400, message: 'The query is nested too deeply.' },
  QUERY_TOO_COMPLEX: { status: 400, message: 'The query would cost too much to run; ask for fewer items or fewer fields.' },
  QUERY_TOO_LARGE: { status: 413, message: 'The request body is larger than the GraphQL body limit.' },
  QUERY_TOO_MANY_TOKENS: { status: 400, message: 'The query has more tokens than the limit.' },
  QUERY_TOO_MANY_FIELDS: { status: 400, message: 'The query selects more fields than the limit (fragments expanded).' },
  QUERY_TOO_MANY_ALIASES: { status: 400, message: 'The query has more aliases than the limit.' },
  QUERY_TOO_MANY_DIRECTIVES: { status: 400, message: 'The query has more directives than the limit.' },
  PAGE_SIZE_EXCEEDED: { status: 400, message: 'The page size is larger than the cap.' },
  TIMEOUT: { status: 504, message: 'The query ran past the time limit.' },
  INTERNAL: { status: 500, message: 'tollgate failed to answer the query.' },
  // Tagged onto mercurius' own parse and validation errors, which carry no code.
  GRAPHQL_PARSE_FAILED: { status: 400, message: 'The query is not valid GraphQL.' },
  GRAPHQL_VALIDATION_FAILED: { status: 400, message: 'The query does not match the schema.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type GqlErrorCode = keyof typeof GQL_ERRORS;

/** An error with a catalogued code; mercurius puts `extensions` on the wire and uses `statusCode`. */
export class AnalyticsError extends mercurius.ErrorWithProps {
  readonly code: GqlErrorCode;

  constructor(code: GqlErrorCode, message?: string, extra: Record<string, unknown> = {}) {
    super(message ?? GQL_ERRORS[code].message, { code, ...extra }, GQL_ERRORS[code].status);
    this.code = code;
  }
}

type FormattedError = { message: string; path?: unknown; locations?: unknown; extensions?: Record<string, unknown> };
type Formatter = NonNullable<mercurius.MercuriusOptions['errorFormatter']>;

/**
 * mercurius' default formatter, then: every error gets extensions.code; an unexpected error inside a
 * resolver (a bug, a database failure) is logged and shown as INTERNAL without its message, which could
 * name tables or data the caller may not see.
 */
export const formatErrors: Formatter = (execution, context) => {
  const formatted = mercurius.defaultErrorFormatter({ ...execution, errors: execution.errors.map(catalogued) }, context);
  const errors = (formatted.response.errors ?? []) as unknown as FormattedError[];
  const log = context.reply?.log ?? context.app.log;
  formatted.response.errors = errors.map((e) => withCode(e, log)) as unknown as ExecutionResult['errors'];
  return formatted;
};

/** Fastify refuses a body over the route's limit before mercurius sees it; it gets the GraphQL code. */
function catalogued(e: GraphQLError): GraphQLError {
  if ((e.originalError as { code?: unknown } | undefined)?.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return e;
  const err = new AnalyticsError('QUERY_TOO_LARGE');
  return new GraphQLError(err.message, { originalError: err, extensions: { code: err.code } });
}

// graphql-js' own words when parse's maxTokens stops it.
const TOO_MANY_TOKENS = /^Syntax Error: Document contains more that (\d+) tokens/;

function withCode(e: FormattedError, log: { error(o: object, m: string): void }): FormattedError {
  if (typeof e.extensions?.code === 'string') return e;
  const tokens = TOO_MANY_TOKENS.exec(e.message);
  if (tokens) return { message: `the query has more than ${tokens[1]} tokens`, extensions: { code: 'QUERY_TOO_MANY_TOKENS', max: Number(tokens[1]) } };
  if (e.path !== undefined) {
    log.error({ graphqlError: e }, 'graphql resolver failed');
    return { ...e, message: GQL_ERRORS.INTERNAL.message, extensions: { ...e.extensions, code: 'INTERNAL' } };
  }
  const code: GqlErrorCode = /^Syntax Error/.test(e.message) ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED';
  return { ...e, extensions: { ...e.extensions, code } };
}
