import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, WRITER, type Gateway } from '../helpers/gateway.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * Issue 16, item 13 (metering's part): "a 16 MB+ JSON answer is not parsed for usage (metered 0)". The gateway
 * keeps at most 16 MB of a JSON answer; an embeddings answer for many inputs passes that. Its usage is read from
 * the answer's last bytes without holding the whole body; when it truly cannot be read, the call is metered from
 * the estimate and flagged, never 0.
 */

const INPUTS = Array.from({ length: 120 }, (_, i) => `product description number ${i} for the spring catalogue`);
const DIMENSIONS = 9000; // 120 × 9,000 floats as JSON text: about 20 MB

describe('large JSON answers', () => {
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    gw = await startGateway();
    key = await gw.key('campaign-writer');
  });
  afterAll(async () => gw?.close());

  async function ledgerRow(requestId: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 400; i++) {
      await gw.flush();
      const row = (await gw.app.tollgate.db('usage_events').where({ request_id: requestId }).first()) as Record<string, unknown> | undefined;
      if (row) return row;
      await sleep(25);
    }
    throw new Error(`no ledger row for ${requestId}`);
  }

  const params = { model: 'text-embedding-3-small', input: INPUTS, dimensions: DIMENSIONS, encoding_format: 'float' as const };

  it('a JSON answer past the 1 MiB held whole before sending is streamed on, intact, and metered from its whole body', async () => {
    const mid = { ...params, dimensions: 1500 }; // about 3.5 MB: streamed on, still parsed whole for usage
    const { data, response } = await gw.openai(key, WRITER).embeddings.create(mid).withResponse();
    expect(data.data).toHaveLength(INPUTS.length);
    expect(data.data.every((d) => d.embedding.length === 1500)).toBe(true);
    const length = Number(response.headers.get('content-length'));
    expect(length).toBeGreaterThan(1024 * 1024);
    expect(length).toBeLessThan(16 * 1024 * 1024);
    const wire = gw.upstream.usageLog.at(-1)!;
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false, flags: null, input_tokens: wire.usage.input_tokens, output_tokens: 0 });
  }, 120_000);

  it('a 16 MB+ JSON answer is not parsed for usage (metered 0): its usage is read from its end', async () => {
    const { data, response } = await gw.openai(key, WRITER).embeddings.create(params).withResponse();
    expect(data.data).toHaveLength(INPUTS.length);
    expect(Number(response.headers.get('content-length'))).toBeGreaterThan(16 * 1024 * 1024);
    const wire = gw.upstream.usageLog.at(-1)!;
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expect(wire.usage.input_tokens).toBeGreaterThan(0);
    expect(row).toMatchObject({ status: 200, partial: false, flags: null, input_tokens: wire.usage.input_tokens, output_tokens: 0 });
  }, 120_000);

  it('meters one whose usage cannot be read from the estimate, flagged usage_unread, never 0', async () => {
    gw.upstream.script({ fault: 'usage', usage: null, path: '/v1/embeddings' });
    const { response } = await gw.openai(key, WRITER).embeddings.create(params).withResponse();
    const row = await ledgerRow(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ status: 200, partial: false, flags: ['usage_unread'], input_tokens: promptTokens(params) });
    expect(Number(row.input_tokens)).toBeGreaterThan(0);
  }, 120_000);
});
