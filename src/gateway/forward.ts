import { pipeline, Transform, type Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseJson, tailMember } from '../providers/json.js';
import { ZERO_USAGE, type StreamUsageReader } from '../providers/types.js';
import { createSseTap } from '../providers/sse.js';
import { createEventStreamTap } from '../providers/event-stream.js';
import type { AllowedCall, CallProgress } from './call.js';
import { meterAnswer, meterCall, outcomeOf } from './meter-call.js';
import { sendProviderError } from './respond.js';
import type { HeaderFilter } from './headers.js';
import { ERRORS } from '../errors.js';

/**
 * JSON answers up to this size are parsed whole for usage (and tool names). A larger one (an embeddings answer
 * for many inputs) is not held: only its last TAIL_BYTES are kept, and the top-level `usage`, which the providers
 * put at or near the end, is read from them (providers/json.ts tailMember).
 */
const MAX_JSON_USAGE_BYTES = 16 * 1024 * 1024;
const TAIL_BYTES = 1024 * 1024;
/** A JSON answer up to this size is read whole and then sent in one write; a larger one is streamed through. */
const WHOLE_BYTES = 1024 * 1024;

/**
 * Forwards an allowed call with tollgate's provider credential, streams the answer back, meters it. The body
 * is the text the decision serialized; the headers are the adapter's allowlist (src/gateway/headers.ts), plus
 * the host and framing of that body, which reply-from sets.
 */
export function forwardHandler(app: FastifyInstance, filter: HeaderFilter) {
  return function forward(request: FastifyRequest, reply: FastifyReply, dest: string, options: object) {
    const call = request.tollgateCall!;
    const { headers, dropped } = filter.request(request.headers);
    // The caller's trace context never crosses as sent: with traces on, the upstream continues tollgate's span.
    if (call.span !== undefined) Object.assign(headers, call.span.propagation);
    // tollgate's own credential for a signing vendor (SigV4, a token) goes on last, over anything else.
    if (call.upstreamAuth !== undefined) Object.assign(headers, call.upstreamAuth);
    for (const [header, values] of dropped) reply.header(`x-tollgate-dropped-${header}`, values);
    // Whatever ends the call first meters it; a client that leaves mid-stream still yields its event.
    reply.raw.once('close', () => clientGone(app, call, reply.raw.writableFinished));
    return reply.from(call.upstreamUrl ?? dest, {
      ...options,
      body: call.bodyText,
      contentType: 'application/json',
      rewriteRequestHeaders: (_req, framing) => Object.assign(headers, { host: framing.host, 'content-type': framing['content-type'], 'content-length': framing['content-length'] }),
      onResponse: (_req, rep, res) => relay(app, call, rep as FastifyReply, res.statusCode, (res as unknown as { headers: IncomingHttpHeaders }).headers, res.stream),
      onError: (rep, { error }) => upstreamFailed(app, call, rep as FastifyReply, error),
    });
  };
}

function relay(app: FastifyInstance, call: AllowedCall, reply: FastifyReply, status: number, headers: IncomingHttpHeaders, upstream: NodeJS.ReadableStream) {
  const contentType = String(headers['content-type'] ?? '');
  const sse = contentType.includes('text/event-stream');
  const eventStream = contentType.includes('application/vnd.amazon.eventstream');
  call.upstreamStatus = status;
  if (!sse && !eventStream) return relayWhole(app, call, reply, status, upstream as Readable);
  reply.removeHeader('content-length');
  relayStream(app, call, reply, status, upstream, sse ? sseTap(call) : eventStreamTap(call));
}

function relayStream(app: FastifyInstance, call: AllowedCall, reply: FastifyReply, status: number, upstream: NodeJS.ReadableStream, { tap, result, onLastEvent }: Tap) {
  call.progress = result;
  const finish = (cut: boolean) => meterAnswer(app, call, status, () => answerOutcome(call, status, result(), cut));
  // Metered when the provider's last event arrives, before it goes on to the client (a client may stop reading
  // there); else, or for a stream that has none, when the stream ends.
  onLastEvent?.(() => finish(false));
  tap.once('end', () => finish(false));
  pipeline(upstream, tap, (err) => {
    if (err) finish(true);
  });
  reply.send(tap);
}

/**
 * The outcome of an answer that ended (`cut`: broken off). An error answer that arrived whole carries no usage
 * because nothing was billed: that is not partial; nor is a whole answer whose usage report was not made of token
 * counts (flagged instead).
 */
function answerOutcome(call: AllowedCall, status: number, r: CallProgress, cut: boolean) {
  return outcomeOf(call, status, r, cut || (!r.complete && r.invalidUsage === undefined && !r.unread && status < 400));
}

/**
 * A JSON answer (not a stream): read whole, metered from it, then sent in one write, without a stream
 * pipeline per call (its transform, abort controller and listeners were a tenth of a call's CPU). An answer
 * that passes WHOLE_BYTES before it ends goes on as a stream, through the same tap as before. One that breaks
 * off before its end reaches the client as a 502 (504 when the provider stalled mid-body) in its provider's
 * shape, rather than as half a JSON document; it is metered as partial, as a stream cut midway is.
 */
function relayWhole(app: FastifyInstance, call: AllowedCall, reply: FastifyReply, status: number, upstream: Readable) {
  let chunks: Buffer[] = [];
  let size = 0;
  call.progress = () => ({ usage: { ...ZERO_USAGE }, complete: false });
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size <= WHOLE_BYTES) return;
    // Too large to hold before sending: stream the rest through the JSON tap, what was read first.
    stop();
    const json = jsonTap(call);
    for (const held of chunks) json.tap.write(held);
    chunks = [];
    relayStream(app, call, reply, status, upstream, json);
  };
  const onEnd = () => {
    stop();
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    chunks = [];
    call.progress = () => wholeBody(call, body.toString('utf8'));
    // Journaled before it is sent: the write hands the client the whole answer at once (its length is known), so a
    // process killed right after it would leave a call its client has in full metered only by its in-flight fallback.
    meterAnswer(app, call, status, () => answerOutcome(call, status, call.progress!(), false));
    if (!reply.raw.destroyed) reply.send(body);
  };
  const onError = (err: Error & { code?: string }) => {
    stop();
    chunks = [];
    meterAnswer(app, call, status, () => outcomeOf(call, status, { usage: { ...ZERO_USAGE }, complete: false }, true));
    if (reply.sent || reply.raw.destroyed) return;
    const code = err.code === 'UND_ERR_BODY_TIMEOUT' ? 'upstream_timeout' : 'upstream_unreachable';
    reply.log.warn({ err, code }, 'the provider\'s answer broke off before its end');
    reply.removeHeader('content-length');
    const message = code === 'upstream_timeout' ? 'The provider stopped sending its answer before its end.' : 'The provider\'s answer broke off before its end.';
    sendProviderError(reply, call.adapter, { status: ERRORS[code].status, code, message });
  };
  const stop = () => {
    upstream.off('data', onData);
    upstream.off('end', onEnd);
    upstream.off('error', onError);
    // A stream left without an error listener would end the process on a late error.
    upstream.on('error', ignore);
  };
  upstream.on('data', onData);
  upstream.once('end', onEnd);
  upstream.once('error', onError);
}

const ignore = () => {};

function clientGone(app: FastifyInstance, call: AllowedCall, responseFinished: boolean) {
  if (call.finished) return;
  // 499: the client closed the connection before the upstream answered (nginx's convention).
  const status = call.upstreamStatus ?? 499;
  meterAnswer(app, call, status, () => {
    const seen = call.progress?.() ?? { usage: { ...ZERO_USAGE }, complete: false };
    return { ...outcomeOf(call, call.upstreamStatus ?? 0, seen, !(responseFinished && seen.complete)), status };
  });
}

/** `onLastEvent`: where the stream's last event is known (StreamUsageReader.ended), it is heard before it is sent. */
type Tap = { tap: Transform; result: () => CallProgress; onLastEvent?: (listener: () => void) => void };

/**
 * Feeds a stream's events to its reader and tells the listener, once, when the reader has seen the provider's last
 * event (the taps call `push` before they pass on the bytes that hold the event).
 */
function lastEventWatch(reader: StreamUsageReader) {
  let last: (() => void) | undefined;
  return {
    push(event: string | undefined, data: string) {
      reader.push(event, data);
      if (last === undefined || reader.ended?.() !== true) return;
      const heard = last;
      last = undefined;
      heard();
    },
    onLastEvent(listener: () => void) {
      last = listener;
    },
  };
}

function sseTap(call: AllowedCall): Tap {
  const reader = call.adapter.streamReader(call.endpoint);
  const watch = lastEventWatch(reader);
  const tap = createSseTap({
    onEvent: watch.push,
    drop: call.injectedUsage ? (event, data) => call.adapter.isInjectedUsageEvent(event, data) : undefined,
  });
  return {
    tap,
    result() {
      const { servedModel, ...read } = reader.result();
      return { ...read, tools: reader.tools(), ...(servedModel !== undefined ? { model: servedModel } : {}) };
    },
    onLastEvent: watch.onLastEvent,
  };
}

/**
 * AWS event-stream frames (Bedrock's streams): each event's type and payload go to the adapter's reader; an
 * exception frame ends the answer as failed midway, so what it had reported is metered as partial.
 */
function eventStreamTap(call: AllowedCall): Tap {
  const reader = call.adapter.streamReader(call.endpoint);
  let failed = false;
  const watch = lastEventWatch(reader);
  const tap = createEventStreamTap({
    onEvent: watch.push,
    onException: () => {
      failed = true;
    },
  });
  return {
    tap,
    result() {
      const { servedModel, ...read } = reader.result();
      return { ...read, ...(failed ? { complete: false } : {}), tools: reader.tools(), ...(servedModel !== undefined ? { model: servedModel } : {}) };
    },
    onLastEvent: watch.onLastEvent,
  };
}

function jsonTap(call: AllowedCall): Tap {
  let chunks: Buffer[] = [];
  let size = 0;
  let kept = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      chunks.push(chunk);
      kept += chunk.length;
      if (size > MAX_JSON_USAGE_BYTES) {
        while (kept - chunks[0]!.length >= TAIL_BYTES) kept -= chunks.shift()!.length;
      }
      cb(null, chunk);
    },
  });
  return {
    tap,
    result() {
      const text = Buffer.concat(chunks).toString('utf8');
      chunks = [];
      return size <= MAX_JSON_USAGE_BYTES ? wholeBody(call, text) : bodyTail(call, text);
    },
  };
}

function wholeBody(call: AllowedCall, text: string): CallProgress {
  const body = parseJson(text);
  if (body === undefined) return { usage: { ...ZERO_USAGE }, complete: false };
  // Only a span reads the answer's model (gen_ai.response.model): with traces off, nothing more is done here.
  const model = call.span === undefined ? undefined : call.adapter.modelFromBody(body);
  const progress = readUsage(call, body, call.adapter.toolsFromBody(call.endpoint, body));
  return model === undefined ? progress : { ...progress, model };
}

/** Usage from the end of an answer too large to hold; `unread` when it is not there (metered from the estimate, flagged). */
function bodyTail(call: AllowedCall, tail: string): CallProgress {
  const usage = tailMember(tail, 'usage');
  if (usage === undefined || usage === null) return { usage: { ...ZERO_USAGE }, complete: false, unread: true };
  return readUsage(call, { usage });
}

function readUsage(call: AllowedCall, body: unknown, tools?: string[]): CallProgress {
  const usage = call.adapter.usageFromBody(call.endpoint, body);
  if (usage !== null) return { usage, complete: true, tools };
  const invalidUsage = call.adapter.badUsage(call.endpoint, body);
  return { usage: { ...ZERO_USAGE }, complete: false, tools, ...(invalidUsage ? { invalidUsage } : {}) };
}

function upstreamFailed(app: FastifyInstance, call: AllowedCall, reply: FastifyReply, error: Error & { statusCode?: number }) {
  const timeout = error.statusCode === 504;
  const code = timeout ? 'upstream_timeout' : 'upstream_unreachable';
  meterCall(app, call, { status: ERRORS[code].status, usage: { ...ZERO_USAGE }, partial: false });
  reply.log.warn({ err: error, code }, 'upstream call failed');
  if (!reply.sent) sendProviderError(reply, call.adapter, { status: ERRORS[code].status, code, message: ERRORS[code].message });
}
