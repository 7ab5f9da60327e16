import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderSettings } from '../config.js';
import type { BodyProblem, BodyShape } from './endpoint-spec.js';

/** Tokens in tollgate's normalized form: the four kinds are disjoint, so cost is a plain sum. */
export type NormalizedUsage = {
  /** Input tokens billed at the full input price (cache reads and writes excluded). */
  input_tokens: number;
  /** Input tokens read from the provider's prompt cache. */
  cached_input_tokens: number;
  /** Input tokens written to the provider's prompt cache. */
  cache_write_tokens: number;
  /** Output tokens, reasoning included. */
  output_tokens: number;
  /** Of cache_write_tokens, those written for an hour (Anthropic's 1-hour TTL), priced apart; absent: none. */
  cache_write_1h_tokens?: number;
  /** The service tier the provider says served the call (flex, priority…); absent: the standard one. */
  service_tier?: string;
};

/** The four disjoint token kinds every usage has. */
export type TokenKind = 'input_tokens' | 'cached_input_tokens' | 'cache_write_tokens' | 'output_tokens';

export const ZERO_USAGE: Readonly<NormalizedUsage> = Object.freeze({
  input_tokens: 0,
  cached_input_tokens: 0,
  cache_write_tokens: 0,
  output_tokens: 0,
});

/** Reads usage (and the names of the tools called) from an SSE stream, event by event, as it passes through. */
export interface StreamUsageReader {
  /** Feed one parsed SSE event (its `event:` name, if any, and its `data:` payload). */
  push(event: string | undefined, data: string): void;
  /**
   * The usage seen so far; `complete` is false until the provider's final usage report arrived. `deltas`:
   * the output delta events seen (a token or a few each), what an answer cut before its report did produce.
   * `invalidUsage`: the counts of a usage report that held something other than a token count, as they came
   * (that report is not taken: the call is metered as if it had none).
   */
  result(): { usage: NormalizedUsage; complete: boolean; servedModel?: string; deltas: number; invalidUsage?: Record<string, unknown> };
  /** Names of the tools the answer called so far: sanitized, distinct, sorted (src/providers/tools.ts). */
  tools(): string[];
  /**
   * The provider's last event arrived (OpenAI chat's `[DONE]`, a Responses stream's final event, Anthropic's
   * `message_stop`, Bedrock ConverseStream's `metadata`): nothing billed follows it. Absent where a stream's last
   * event is the end of its body (Gemini's).
   */
  ended?(): boolean;
}

export type ErrorShape = { status: number; code: string; message: string; type?: string };

/**
 * Which headers cross tollgate, each way, for one provider: data the gateway applies (src/gateway/headers.ts).
 * Anything not listed is dropped. Names are lower case.
 */
export type HeaderRules = {
  /** Request headers forwarded as the agent sent them. */
  request: readonly string[];
  /** Request headers holding a comma-separated list: only the members in the set go upstream. */
  requestLists: Readonly<Record<string, ReadonlySet<string>>>;
  /** Request headers tollgate sets itself: its credential, and what it chose for its account. */
  set: Readonly<Record<string, string>>;
  /** Response headers passed back to the agent, and prefixes passed whole (rate limits). */
  response: readonly string[];
  responsePrefixes: readonly string[];
};

/**
 * A call a vendor names in its path (Azure's deployment, Gemini's `models/{m}:method`): the endpoint it is (a key
 * of the adapter's endpoints), the model the path names (undefined: the body names it), and the upstream path
 * (below the adapter's upstreamPrefix) for the model tollgate serves.
 */
export type PathCall = { endpoint: string; model?: string; upstreamPath(model: string): string };
/** A path that names a known call in a way tollgate refuses (no api-version, a stream that is not SSE). */
export type PathProblem = { problem: string };

/** The upstream request a signer signs: POST, its full URL (the vendor's base URL, path and query), the body as sent. */
export type UpstreamRequest = { url: URL; body: string };

/**
 * Signs upstream calls with tollgate's own credential for a vendor whose credential is not a static key (AWS
 * SigV4, Google OAuth tokens, Entra tokens): the headers to set on the call (they win over every other). It may
 * fetch or refresh a token; a rejection refuses the call with upstream_auth_failed, nothing forwarded.
 */
export type UpstreamSigner = (request: UpstreamRequest) => Promise<Record<string, string>>;

export interface ProviderAdapter {
  /** The vendor's id: 'openai', 'anthropic', 'azure', 'gemini', 'bedrock' (the catalog's provider id and the policy's). */
  readonly name: string;
  /** The provider as OpenTelemetry's GenAI conventions name it (`gen_ai.provider.name`): 'azure.ai.openai', 'gcp.gemini'… */
  readonly genAiProvider: string;
  /** The provider's root on tollgate, e.g. '/anthropic' (an Anthropic SDK's base URL). */
  readonly root: string;
  /** Route prefix on tollgate, e.g. '/openai/v1'. */
  readonly prefix: string;
  /** What the prefix becomes upstream, e.g. '/v1' (Azure: '/openai'). */
  readonly upstreamPrefix: string;
  /**
   * Further route prefixes beside `prefix`, each with what it becomes upstream: another API version the vendor's
   * SDKs call (Vertex AI's v1beta1, the @google/genai default, beside v1). The same calls are forwarded below each.
   */
  readonly morePrefixes?: readonly Readonly<{ prefix: string; upstreamPrefix: string }>[];
  /**
   * Vendors that name the model or the call in the path: the call a path (after the prefix) and its query name,
   * or null when it names none tollgate forwards. Absent: the path is the endpoint and the body names the model.
   * `settings`: tollgate's for the vendor, for a vendor whose upstream path names tollgate's account (Vertex's project).
   */
  routePath?(path: string, query: URLSearchParams, settings?: ProviderSettings): PathCall | PathProblem | null;
  /** The paths forwarded, as the root lists them (below the prefix), when they are not the endpoints (Azure, Gemini). */
  readonly paths?: readonly string[];
  /** Query parameters forwarded upstream (anything else, a credential in `key=` included, is dropped); absent: all. */
  readonly queryAllowlist?: readonly string[];
  /** Endpoints (path after prefix) tollgate meters and forwards, e.g. '/chat/completions'. */
  readonly endpoints: readonly string[];
  /** Each endpoint's operation in OpenTelemetry's GenAI conventions (`gen_ai.operation.name`). */
  readonly operations: Readonly<Record<string, string>>;
  /** The headers that cross, each way, given tollgate's settings for this provider (its key, account, betas). */
  headerRules(settings: ProviderSettings): HeaderRules;
  /**
   * Prepare the upstream body: set the served model and, for streams, make sure the provider reports
   * usage. Returns the body to send and whether tollgate added a usage request the client did not ask for.
   */
  prepareBody(endpoint: string, body: Record<string, unknown>, servedModel: string): {
    body: Record<string, unknown>;
    injectedUsage: boolean;
  };
  isStream(endpoint: string, body: Record<string, unknown>): boolean;
  /** Usage from a non-streamed JSON response body; null when it has none, or a count in it is not a token count. */
  usageFromBody(endpoint: string, body: unknown): NormalizedUsage | null;
  /** The counts of a JSON body's usage report, as they came, when one of them is not a token count. */
  badUsage(endpoint: string, body: unknown): Record<string, unknown> | undefined;
  /** Names of the tools the request declares (never their descriptions or schemas): sanitized, distinct, sorted. */
  requestTools(endpoint: string, body: Record<string, unknown>): string[];
  /** Names of the tools a non-streamed JSON response body called: sanitized, distinct, sorted. */
  toolsFromBody(endpoint: string, body: unknown): string[];
  /** The model the upstream says served the call, from a JSON response body. */
  modelFromBody(body: unknown): string | undefined;
  streamReader(endpoint: string): StreamUsageReader;
  /**
   * When tollgate injected a usage request, decide whether an SSE event exists only because of it
   * (and so must not reach the client).
   */
  isInjectedUsageEvent(event: string | undefined, data: string): boolean;
  /** The error body in this provider's own shape. */
  errorBody(err: ErrorShape): unknown;
  /**
   * Vendors whose SDKs read the error's kind from a header, or retry by status (Bedrock: x-amzn-errortype, and a
   * hard cap must not be a 429 the AWS SDK retries): the status and headers a refusal leaves with. Absent: the
   * code's status, no header.
   */
  errorReply?(err: ErrorShape): { status: number; headers: Record<string, string> };
  /**
   * A credential the vendor's SDK sends that is never tollgate's (an AWS signature): why it is refused, before
   * anything is looked up (invalid_credential). Absent or undefined: the credential is read as usual.
   */
  refuseCredential?(headers: IncomingHttpHeaders): string | undefined;
  /**
   * The body's output limit per answer and number of answers (what a reservation's worst case multiplies),
   * or why the body is refused (a limit that is not a whole number in range, an absurd model name).
   */
  readBody(endpoint: string, body: Record<string, unknown>): BodyShape | BodyProblem;
  /** The body with its output limit per answer set to `limit` (used when a budget clamps the call). */
  clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown>;
  /** Whether the provider charges for calls to this endpoint (token counting is free). */
  isBilled(endpoint: string): boolean;
  /**
   * Vendors that sign each call (Bedrock, Vertex, Azure with Entra): the signer for tollgate's settings, built
   * once at start, or null when those settings hold no credential (the vendor is then not configured).
   */
  upstreamSigner?(settings: ProviderSettings): UpstreamSigner | null;
}
