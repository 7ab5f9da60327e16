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
};

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
}

export type ErrorShape = { status: number; code: string; message: string; type?: string };

export interface ProviderAdapter {
  /** 'openai' | 'anthropic' */
  readonly name: string;
  /** Route prefix on tollgate, e.g. '/openai/v1'. */
  readonly prefix: string;
  /** Endpoints (path after prefix) tollgate meters and forwards, e.g. '/chat/completions'. */
  readonly endpoints: readonly string[];
  /** The header that carries the provider credential upstream, and how its value is built. */
  credentialHeaders(apiKey: string): Record<string, string>;
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
  /** Worst-case output tokens the request may produce (max_tokens or a default). */
  maxOutputTokens(endpoint: string, body: Record<string, unknown>): number;
  /** The output limit per answer the body sets, null when none, 0 for an endpoint without output (embeddings). */
  outputLimit(endpoint: string, body: Record<string, unknown>): number | null;
  /** How many answers the body asks for (OpenAI chat `n`), 1 elsewhere. */
  choices(endpoint: string, body: Record<string, unknown>): number;
  /** The body with its output limit set to `limit` (used when a budget clamps the call). */
  clampOutput(endpoint: string, body: Record<string, unknown>, limit: number): Record<string, unknown>;
  /** Whether the provider charges for calls to this endpoint (token counting is free). */
  isBilled(endpoint: string): boolean;
}
