import type { Decision, TagsFact } from '../policy/types.js';
import type { NormalizedUsage, ProviderAdapter } from '../providers/types.js';

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
  modelRequested: string;
  modelServed: string;
  body: Record<string, unknown>;
  injectedUsage: boolean;
  finished: boolean;
  /** The upstream's status, once it answered. */
  upstreamStatus?: number;
  /** Usage read so far from the upstream's answer, once it started. */
  progress?: () => { usage: NormalizedUsage; complete: boolean };
};

export type CallOutcome = { status: number; usage: NormalizedUsage; partial: boolean };
