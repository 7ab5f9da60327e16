import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, PROMO, type Gateway } from '../helpers/gateway.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

/**
 * Issue 17 item 5: without an OTLP endpoint, traces cost nothing: the OpenTelemetry SDK is never loaded, no span
 * is made, and the caller's trace headers still do not reach the provider. Its own file: the SDK, once loaded by
 * a gateway with traces on, stays in the process.
 */

// The SDK's packages have no "exports" map, so Node loads their CommonJS build, which lands in require.cache.
const SDK_MODULE = /[\\/]node_modules[\\/]@opentelemetry[\\/](sdk-trace|sdk-trace-base|exporter-trace-otlp-[a-z]+|otlp-[a-z-]+|resources|core)[\\/]/;
const loadedSdkModules = () => Object.keys(createRequire(import.meta.url).cache).filter((file) => SDK_MODULE.test(file));

let receiver: OtlpReceiver;
let gw: Gateway;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // What a platform sets beside the endpoint does not turn traces on by itself.
  gw = await startGateway({ OTEL_SERVICE_NAME: 'tollgate-off', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
});
afterAll(async () => {
  await gw?.close();
  await receiver?.close();
});

describe('traces without an OTLP endpoint', () => {
  it('no tracer, no SDK module loaded, nothing exported, no trace header upstream — for allowed and refused calls', async () => {
    expect(gw.app.tollgate.config.traces).toBeNull();
    expect(gw.app.tollgate.tracer).toBeNull();
    const client = gw.openai(await gw.key('promo-planner'), PROMO, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    await expect(client.chat.completions.create({ model: 'gpt-9-ultra', messages: [{ role: 'user', content: 'hi' }] })).rejects.toThrow(/unknown model/);
    await gw.flush();
    const sent = gw.upstream.requests.find((r) => r.id === response.headers.get('x-request-id'));
    expect(sent?.headers.traceparent).toBeUndefined();
    expect(sent?.headers.tracestate).toBeUndefined();
    expect(loadedSdkModules()).toEqual([]);
    expect(receiver.posts).toEqual([]);
  });

  it('the same check sees the SDK once a gateway with an endpoint starts (so the check above can fail)', async () => {
    const on = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    try {
      expect(on.app.tollgate.tracer).not.toBeNull();
      const loaded = loadedSdkModules();
      expect(loaded.some((f) => f.includes('sdk-trace-base'))).toBe(true);
      expect(loaded.some((f) => f.includes('exporter-trace-otlp-http'))).toBe(true);
    } finally {
      await on.close();
    }
  });
});
