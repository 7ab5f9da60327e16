/**
 * The page's GraphQL client: the same /graphql as every other client, the token as a Bearer header (never
 * in a URL). Errors keep the API's extensions.code so that the page can say what went wrong.
 */

export class ApiError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

type GraphqlBody<T> = { data?: T | null; errors?: { message: string; extensions?: { code?: unknown } }[] };

export type Gql = <T>(query: string, variables?: Record<string, unknown>) => Promise<T>;

export function graphqlClient(token: string): Gql {
  return async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    let res: Response;
    try {
      res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(`tollgate could not be reached: ${(err as Error).message}`, 'NETWORK_ERROR');
    }
    const body = await res.json().catch(() => null) as GraphqlBody<T> | null;
    if (!body) throw new ApiError(`tollgate answered HTTP ${res.status} without a GraphQL response`, `HTTP_${res.status}`);
    const first = body.errors?.[0];
    if (first) throw new ApiError(first.message, typeof first.extensions?.code === 'string' ? first.extensions.code : 'UNKNOWN');
    if (!body.data) throw new ApiError('tollgate answered without data', 'UNKNOWN');
    return body.data;
  };
}

/** One line for an error slot: the message and its code. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return `Something went wrong: ${(err as Error).message ?? String(err)}`;
}
