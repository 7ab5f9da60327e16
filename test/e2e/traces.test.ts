import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from 'openai';
import { startGateway, PROMO, type Gateway } from '../helpers/gateway.js';
import { normalizeDecimal } from '../helpers/expect-cost.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';

/**
 * Issue 17 item 5: with an OTLP endpoint set, every call yields one span (OpenTelemetry GenAI conventions plus
 * tollgate's attributes) that continues the caller's W3C trace, and the upstream request continues that span.
 */

let receiver: OtlpReceiver;
let gw: Gateway;
let key: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'tollgate-under-test' });
  key = await gw.key('promo-planner');
});
afterAll(async () => {
  await gw?.close();
  await receiver?.close();
});

/** A caller's trace context: a fresh trace, the caller's span in it, sampled. */
function callerContext() {
  const traceId = crypto.randomBytes(16).toString('hex');
  const spanId = crypto.randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** The spans exported for one tollgate request id, once the meter and the span batch were flushed. */
async function spansFor(requestId: string, atLeast = 1): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await gw.flush();
    await gw.app.tollgate.tracer!.flush();
    const found = receiver.spans().filter((s) => s.attributes['tollgate.request_id'] === requestId);
    if (found.length >= atLeast || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ledgerRow(requestId: string): Promise<Record<string, unknown>> {
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', requestId);
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

function upstreamHeaders(requestId: string | null) {
  const req = gw.upstream.requests.find((r) => r.id === requestId);
  expect(req, 'the upstream request that answered').toBeDefined();
  return req!.headers;
}

/** The span's usage and tollgate attributes against the call's one ledger row. */
function expectSpanMatchesLedger(span: ReceivedSpan, row: Record<string, unknown>) {
  const input = Number(row.input_tokens) + Number(row.cached_input_tokens) + Number(row.cache_write_tokens);
  expect(span.attributes).toMatchObject({
    'gen_ai.usage.input_tokens': input,
    'gen_ai.usage.output_tokens': Number(row.output_tokens),
    'gen_ai.usage.cache_read.input_tokens': Number(row.cached_input_tokens),
    'gen_ai.usage.cache_creation.input_tokens': Number(row.cache_write_tokens),
    'gen_ai.request.model': row.model_requested,
    'tollgate.model_served': row.model_served,
    'tollgate.bu': row.bu_id,
    'tollgate.use_case': row.use_case_id,
    'tollgate.agent_id': row.agent_id,
    'tollgate.session_id': row.session_id,
    'tollgate.decision_code': row.decision_code,
    'tollgate.budget_tier': row.budget_tier,
    'tollgate.policy_revision': row.policy_revision,
    'tollgate.currency': row.currency,
    'tollgate.partial': false,
    'http.response.status_code': Number(row.status),
  });
  expect(input).toBeGreaterThan(0);
  expect(Number(row.output_tokens)).toBeGreaterThan(0);
  expect(normalizeDecimal(span.attributes['tollgate.cost'] as string)).toBe(normalizeDecimal(row.cost as string));
  expect(Number(row.cost)).toBeGreaterThan(0);
}

describe('a call with an OTLP endpoint set', () => {
  it('OpenAI SDK: one span in the caller\'s trace, child of the caller\'s span, GenAI attributes equal to the ledger row', async () => {
    const caller = callerContext();
    const client = gw.openai(key, PROMO, { traceparent: caller.traceparent, tracestate: 'acme=t61rcWkgMzE' });
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', max_tokens: 64, messages: [{ role: 'user', content: 'plan a promo' }] }).withResponse();
    const requestId = response.headers.get('x-tollgate-request-id')!;
    const spans = await spansFor(requestId);
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.traceId).toBe(caller.traceId);
    expect(span.parentSpanId).toBe(caller.spanId);
    expect(span.spanId).not.toBe(caller.spanId);
    expect(span.name).toBe('chat gpt-4.1-mini');
    expect(span.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(span.status.code ?? 0).not.toBe(2);
    expect(span.resource['service.name']).toBe('tollgate-under-test');
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai', 'gen_ai.system': 'openai', 'gen_ai.operation.name': 'chat', 'gen_ai.request.max_tokens': 64,
      'gen_ai.response.model': expect.any(String), 'gen_ai.conversation.id': PROMO.session_id, 'tollgate.request_id': requestId,
    });
    expectSpanMatchesLedger(span, await ledgerRow(requestId));

    // The provider sees tollgate's span as the parent, never the caller's header as sent.
    const sent = upstreamHeaders(response.headers.get('x-request-id'));
    expect(sent.traceparent).toBe(`00-${caller.traceId}-${span.spanId}-01`);
    expect(sent.tracestate).toBe('acme=t61rcWkgMzE');
  });

  it('Anthropic SDK stream: one span, ended when the stream ended, usage equal to the ledger row', async () => {
    const caller = callerContext();
    gw.upstream.script({ fault: 'slow', chunkDelayMs: 40, path: '/v1/messages' });
    const client = gw.anthropic(key, PROMO, { traceparent: caller.traceparent });
    const { data: stream, response } = await client.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 128, stream: true, messages: [{ role: 'user', content: 'forecast the promo lift' }] })
      .withResponse();
    let events = 0;
    for await (const _ of stream) events++;
    const requestId = response.headers.get('x-tollgate-request-id')!;
    const spans = await spansFor(requestId);
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.traceId).toBe(caller.traceId);
    expect(span.parentSpanId).toBe(caller.spanId);
    expect(span.name).toBe('chat claude-haiku-4-5');
    expect(span.attributes).toMatchObject({ 'gen_ai.provider.name': 'anthropic', 'gen_ai.operation.name': 'chat', 'gen_ai.request.max_tokens': 128 });
    expectSpanMatchesLedger(span, await ledgerRow(requestId));
    // Every event waited 40 ms: a span ended when the answer's headers came would be far shorter.
    const durationMs = Number((BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1_000_000n);
    expect(events).toBeGreaterThan(3);
    expect(durationMs).toBeGreaterThanOrEqual(40 * events);
    expect(upstreamHeaders(response.headers.get('request-id')).traceparent).toBe(`00-${caller.traceId}-${span.spanId}-01`);
  });

  it('a refused call (unknown model): one span with the decision code, error status, in the caller\'s trace', async () => {
    const caller = callerContext();
    const client = gw.openai(key, PROMO, { traceparent: caller.traceparent });
    const err = await client.chat.completions.create({ model: 'gpt-9-ultra', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const requestId = (err as APIError).headers?.get('x-tollgate-request-id') ?? '';
    const spans = await spansFor(requestId);
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.traceId).toBe(caller.traceId);
    expect(span.parentSpanId).toBe(caller.spanId);
    expect(span.status.code).toBe(2); // STATUS_CODE_ERROR
    expect(span.status.message).toMatch(/unknown model/);
    expect(span.attributes).toMatchObject({
      'tollgate.decision_code': 'unknown_model', 'error.type': 'unknown_model', 'http.response.status_code': (err as APIError).status,
      'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-9-ultra', 'tollgate.agent_id': PROMO.agent_id, 'tollgate.bu': PROMO.bu,
    });
    expect(span.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('an upstream error: the span carries the status and is an error', async () => {
    gw.upstream.script({ fault: 'error', status: 529, path: '/v1/messages' });
    const client = gw.anthropic(key, PROMO);
    const err = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    const requestId = (err as APIError).headers?.get('x-tollgate-request-id') ?? '';
    const [span] = await spansFor(requestId);
    expect(span?.status.code).toBe(2);
    expect(span?.attributes).toMatchObject({ 'http.response.status_code': 529, 'error.type': '529', 'tollgate.decision_code': 'ok' });
    // A caller that sent no trace context starts one at tollgate.
    expect(span?.parentSpanId).toBe('');
  });
});

describe('sampling', () => {
  it('a caller\'s unsampled trace yields no span, and the provider is told it is unsampled', async () => {
    const caller = callerContext();
    const client = gw.openai(key, PROMO, { traceparent: `00-${caller.traceId}-${caller.spanId}-00` });
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const requestId = response.headers.get('x-tollgate-request-id')!;
    expect(await spansFor(requestId, 0)).toEqual([]);
    expect(receiver.spans().filter((s) => s.traceId === caller.traceId)).toEqual([]);
    expect(upstreamHeaders(response.headers.get('x-request-id')).traceparent).toMatch(new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-00$`));
  });
});

describe('exports', () => {
  it('the last spans go out when tollgate shuts down', async () => {
    const last = await startOtlpReceiver();
    const g = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: last.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    let requestId: string | null = null;
    try {
      const { response } = await g.openai(await g.key('promo-planner'), PROMO)
        .chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      requestId = response.headers.get('x-tollgate-request-id');
      // The batch goes out every 5 s: nothing has been exported yet.
      expect(last.posts).toEqual([]);
    } finally {
      await g.close();
    }
    expect(last.spans().map((s) => s.attributes['tollgate.request_id'])).toEqual([requestId]);
    await last.close();
  });

  it('go out as OTLP protobuf by default (OpenTelemetry\'s default protocol)', async () => {
    const proto = await startOtlpReceiver();
    const g = await startGateway({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${proto.url}/custom/traces` });
    try {
      const caller = callerContext();
      await g.openai(await g.key('promo-planner'), PROMO, { traceparent: caller.traceparent })
        .chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] });
      await g.flush();
      await g.app.tollgate.tracer!.flush();
      expect(proto.posts.length).toBeGreaterThan(0);
      expect(proto.posts.map((p) => [p.path, p.contentType])).toContainEqual(['/custom/traces', 'application/x-protobuf']);
      // Protobuf carries ids as raw bytes.
      expect(Buffer.concat(proto.posts.map((p) => p.body)).includes(Buffer.from(caller.traceId, 'hex'))).toBe(true);
    } finally {
      await g.close();
      await proto.close();
    }
  });

  it('a collector that fails every export never affects calls', async () => {
    const failing = await startOtlpReceiver({ status: 500 });
    const g = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: failing.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    try {
      const client = g.openai(await g.key('promo-planner'), PROMO, { traceparent: callerContext().traceparent });
      for (let i = 0; i < 3; i++) {
        const { data } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
        expect(data.choices[0]?.message.content).toBeTruthy();
      }
      // The export itself failed, and the next call goes through as before.
      const failed = await g.app.tollgate.tracer!.flush().then(() => null, (e: unknown) => e ?? 'rejected');
      expect(failed).not.toBeNull();
      const again = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] });
      expect(again.usage?.total_tokens).toBeGreaterThan(0);
      expect(failing.posts.length).toBeGreaterThan(0);
    } finally {
      await g.close();
      await failing.close();
    }
  });
});
