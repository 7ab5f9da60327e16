import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Context, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator, setGlobalErrorHandler } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TracesSettings } from '../config.js';
import type { CallSpan, CallTracer } from './traces.js';
import { allowedCallAttributes, callError, endedCallAttributes, refusedCallAttributes, spanName } from './span-attributes.js';

type Log = { warn(o: object, m: string): void };

const SCOPE = 'tollgate';
const UNTRACED: CallSpan = Object.freeze({ propagation: Object.freeze({}), end() {} });

/**
 * The OpenTelemetry SDK behind CallTracer, loaded only when traces are on (src/ops/traces.ts). Spans are batched
 * and exported off the call path; an export that fails is logged and dropped, never retried on a call's time.
 * The gateway's spans are CLIENT spans: the GenAI conventions model a model call from the caller's side, and
 * tollgate is the caller of the provider.
 */
export async function createOtelTracer(settings: TracesSettings, log: Log): Promise<CallTracer> {
  const provider = new BasicTracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES adds to the resource; the service name is tollgate's unless OTEL_SERVICE_NAME says otherwise.
    resource: defaultResource().merge(detectResources({ detectors: [envDetector] })).merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName })),
    spanProcessors: [new BatchSpanProcessor(await exporterFor(settings))],
  });
  // The SDK reports here what it cannot do, a failed export above all (its batch is then dropped).
  setGlobalErrorHandler((err) => log.warn({ err }, 'traces: the OpenTelemetry SDK reported an error (a failed export\'s spans are dropped)'));
  const tracer = provider.getTracer(SCOPE);
  const propagator = new W3CTraceContextPropagator();
  const parentOf = (incoming: IncomingHttpHeaders): Context => propagator.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter);

  return {
    startCall(call, incoming) {
      try {
        const span = tracer.startSpan(
          spanName(call.adapter, call.endpoint, call.modelRequested),
          { kind: SpanKind.CLIENT, startTime: call.ts, attributes: allowedCallAttributes(call) },
          parentOf(incoming),
        );
        const propagation: Record<string, string> = {};
        propagator.inject(trace.setSpan(ROOT_CONTEXT, span), propagation, defaultTextMapSetter);
        return callSpan(span, propagation, call, log);
      } catch (err) {
        log.warn({ err, request_id: call.requestId }, 'traces: a call\'s span could not be started; the call goes on without');
        return UNTRACED;
      }
    },
    refused(adapter, incoming, ts, record) {
      try {
        const span = tracer.startSpan(
          spanName(adapter, record.endpoint, record.model),
          { kind: SpanKind.CLIENT, startTime: ts, attributes: refusedCallAttributes(adapter, record) },
          parentOf(incoming),
        );
        span.setStatus({ code: SpanStatusCode.ERROR, message: record.message });
        span.end();
      } catch (err) {
        log.warn({ err, request_id: record.request_id }, 'traces: a refused call\'s span could not be recorded');
      }
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

function callSpan(span: Span, propagation: Record<string, string>, call: Parameters<CallTracer['startCall']>[0], log: Log): CallSpan {
  return {
    propagation,
    // Runs where the call is metered, which must never throw (src/gateway/meter-call.ts).
    end(outcome, event) {
      try {
        span.setAttributes(endedCallAttributes(call, outcome, event));
        const error = callError(outcome);
        if (error !== null) {
          span.setAttribute('error.type', error);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      } catch (err) {
        log.warn({ err, request_id: call.requestId }, 'traces: a call\'s span could not be ended');
      }
    },
  };
}

/** http/protobuf (OpenTelemetry's default) or http/json; each exporter reads OTEL_EXPORTER_OTLP_HEADERS and timeouts itself. */
async function exporterFor(settings: TracesSettings): Promise<SpanExporter> {
  if (settings.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url: settings.url });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: settings.url });
}
