import type { IncomingHttpHeaders } from 'node:http';
import type { TracesSettings } from '../config.js';
import type { AllowedCall, CallOutcome } from '../gateway/call.js';
import type { DecisionRecord, UsageEvent } from '../metering/types.js';
import type { ProviderAdapter } from '../providers/types.js';

/**
 * One span per gateway call, exported over OTLP. The gateway holds a `CallTracer | null`: with traces off it is
 * null, the OpenTelemetry SDK is never imported, and a call costs one null check.
 */
export interface CallTracer {
  /** Starts an allowed call's span, continuing the caller's W3C trace context (`traceparent`, `tracestate`). */
  startCall(call: AllowedCall, incoming: IncomingHttpHeaders): CallSpan;
  /** A refused call's span, from the call's arrival to now, marked as an error. */
  refused(adapter: ProviderAdapter, incoming: IncomingHttpHeaders, ts: Date, record: DecisionRecord): void;
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops. */
  shutdown(): Promise<void>;
}

export interface CallSpan {
  /** The span's own context as W3C headers, what the upstream request carries. */
  readonly propagation: Readonly<Record<string, string>>;
  /** Ends the span with the call's outcome and its usage event (absent when the call could not be metered). */
  end(outcome: CallOutcome, event: UsageEvent | undefined): void;
}

type Log = { warn(o: object, m: string): void };

/** The tracer for these settings; the SDK is loaded only here, and only when traces are on. */
export async function startTracing(settings: TracesSettings | null, log: Log): Promise<CallTracer | null> {
  if (settings === null) return null;
  const { createOtelTracer } = await import('./otel.js');
  return createOtelTracer(settings, log);
}
