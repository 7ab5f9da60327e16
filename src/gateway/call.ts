import type { Decision, TagsFact } from '../policy/types.js';
import type { NormalizedUsage, ProviderAdapter } from '../providers/types.js';
import type { UsageFlag } from '../metering/types.js';
import type { CallSpan } from '../ops/traces.js';

/** What the gateway knows about one allowed call while it is in flight. */
export type AllowedCall = {
  requestId: string;
  adapter: ProviderAdapter;
  endpoint: string;
  ts: Date;
  startedAt: bigint;
  tags: Required<Omit<TagsFact, 'conflicts'>>;
  parentRequestId: string | null;
  /** Whether budgets hold a reservation for this call (released when its usage is written). */
  reserved: boolean;
  decision: Decision;
  revision: string;
  /** The model id the agent sent (an alias or dated snapshot stays as sent). */
  modelRequested: string;
  /** The catalog model that served the call and prices it (the requested one's, or the downgrade). */
  modelServed: string;
  /** The body as forwarded upstream, serialized once by the decision (model rewritten, output clamped). */
  bodyText: string;
  /** The upstream path and query, for vendors that name the model in the path; absent: the proxy's rewrite. */
  upstreamUrl?: string;
  /** Headers of tollgate's own credential for this call (a vendor's signer: SigV4, an OAuth token), set over all others. */
  upstreamAuth?: Record<string, string>;
  /** The body as received, parsed: what the usage bound reads for references to server-side state. */
  requestBody: Record<string, unknown>;
  /** Bytes of the request body as received (chunked included): what the prompt estimate and its bound read. */
  bodyBytes: number;
  /** Answers the call asks for (OpenAI chat `n`, else 1): each may produce up to `outputLimit` tokens. */
  choices: number;
  /** The output limit per answer in the body as forwarded, after any clamp; null when the body sets none; 0 for an endpoint without output. */
  outputLimit: number | null;
  /** Names of the tools the request declares (metered with the names its answer calls). */
  requestTools: string[];
  injectedUsage: boolean;
  /** The prompt's token estimate (the reservation's): metered when the provider never reports the usage. */
  estimatedInputTokens: number;
  finished: boolean;
  /** The upstream's status, once it answered. */
  upstreamStatus?: number;
  /** Usage read so far from the upstream's answer, once it started. */
  progress?: () => CallProgress;
  /** The call's span, when traces are on (src/ops/traces.ts). */
  span?: CallSpan;
};

/**
 * `invalidUsage`: the counts of a usage report that held something other than token counts, as they came;
 * `unread`: an answer too large to hold whose usage could not be found in its last bytes.
 */
export type CallProgress = {
  usage: NormalizedUsage; complete: boolean; tools?: string[]; deltas?: number; invalidUsage?: Record<string, unknown>; unread?: boolean;
  /** The model the answer says served it, as far as it was read. */
  model?: string;
};

/**
 * How a call ended; `tools` are the names its answer called, as far as it was read; `invalidUsage`, the counts
 * of a usage report that was not taken (for the review queue).
 */
export type CallOutcome = {
  status: number; usage: NormalizedUsage; partial: boolean; tools?: string[]; flags?: UsageFlag[]; invalidUsage?: Record<string, unknown>;
  /** The model the answer says served it, when it said so. */
  model?: string;
};
