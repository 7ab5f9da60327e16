import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, PROMO, type Gateway } from '../helpers/gateway.js';

/**
 * A provider's root on tollgate (/anthropic, /openai): what a client finds there before making any call, and
 * what a request to a path under it outside /v1 gets.
 */

let gw: Gateway;
let key: string;

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.key('promo-planner');
});
afterAll(async () => gw?.close());

const ROOTS = [
  { provider: 'anthropic', root: '/anthropic', forwards: ['POST /anthropic/v1/messages', 'POST /anthropic/v1/messages/count_tokens'] },
  { provider: 'openai', root: '/openai', forwards: ['POST /openai/v1/chat/completions', 'POST /openai/v1/responses', 'POST /openai/v1/embeddings'] },
  {
    provider: 'azure', root: '/azure', forwards: [
      'POST /azure/openai/deployments/{deployment}/chat/completions?api-version=…', 'POST /azure/openai/deployments/{deployment}/embeddings?api-version=…',
      'POST /azure/openai/responses?api-version=…', 'POST /azure/openai/v1/chat/completions', 'POST /azure/openai/v1/responses', 'POST /azure/openai/v1/embeddings',
    ],
  },
  {
    provider: 'gemini', root: '/gemini', forwards: [
      'POST /gemini/v1beta/models/{model}:generateContent', 'POST /gemini/v1beta/models/{model}:streamGenerateContent?alt=sse', 'POST /gemini/v1beta/models/{model}:countTokens',
    ],
  },
  {
    provider: 'vertex', root: '/vertex', forwards: [
      'POST /vertex/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent',
      'POST /vertex/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent?alt=sse',
      'POST /vertex/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:countTokens',
      'POST /vertex/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict',
      'POST /vertex/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict',
      'POST /vertex/v1/projects/{project}/locations/{location}/publishers/anthropic/models/count-tokens:rawPredict',
      'POST /vertex/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent',
      'POST /vertex/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent?alt=sse',
      'POST /vertex/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:countTokens',
      'POST /vertex/v1beta1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict',
      'POST /vertex/v1beta1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict',
      'POST /vertex/v1beta1/projects/{project}/locations/{location}/publishers/anthropic/models/count-tokens:rawPredict',
    ],
  },
] as const;

async function decisionRows(requestId: string) {
  await gw.flush();
  return gw.app.tollgate.db('decision_log').where('request_id', requestId);
}

describe('provider roots', () => {
  it('answers HEAD /anthropic with 200 and no body (regression: Claude Code\'s first request got a bare Fastify 404)', async () => {
    const res = await fetch(`${gw.url}/anthropic`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-tollgate-request-id')).toBeTruthy();
    expect(await res.text()).toBe('');
  });

  for (const { provider, root, forwards } of ROOTS) {
    it(`answers GET and HEAD on ${root} and ${root}/ with tollgate's route and what it forwards, without a credential`, async () => {
      for (const path of [root, `${root}/`]) {
        const res = await fetch(`${gw.url}${path}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ service: 'tollgate', provider, forwards });
        expect((await fetch(`${gw.url}${path}`, { method: 'HEAD' })).status).toBe(200);
      }
    });
  }

  it('refuses another method on the root in the provider\'s shape, logged like any denial', async () => {
    const res = await fetch(`${gw.url}/anthropic`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key, ...tagHeaders(PROMO) }, body: '{"model":"claude-haiku-4-5"}',
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-tollgate-error-code')).toBe('unsupported_endpoint');
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'not_found_error', message: expect.any(String), code: 'unsupported_endpoint' } });
    const rows = await decisionRows(res.headers.get('x-tollgate-request-id')!);
    expect(rows).toHaveLength(1);
    // Nothing is authenticated on the root, so the denial counts against nobody; the tags are kept as claimed.
    expect(rows[0]).toMatchObject({
      provider: 'anthropic', code: 'unsupported_endpoint', http_status: 404, bu_id: null, use_case_id: null, agent_id: null, session_id: null,
      claimed: { bu: PROMO.bu, use_case: PROMO.use_case, agent_id: PROMO.agent_id, session_id: PROMO.session_id },
    });
  });

  it('refuses a path under the root outside /v1 in the provider\'s shape (regression: a bare Fastify 404)', async () => {
    const res = await fetch(`${gw.url}/openai/v2/models`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: expect.any(String), type: 'not_found_error', param: null, code: 'unsupported_endpoint' } });
    expect(await decisionRows(res.headers.get('x-tollgate-request-id')!)).toHaveLength(1);
  });

  it("refuses a path under /azure or /gemini outside the forwarded prefix in the vendor's shape", async () => {
    const azure = await fetch(`${gw.url}/azure/openai-v2/x`, { method: 'POST' });
    expect(azure.status).toBe(404);
    expect(await azure.json()).toEqual({ error: { message: expect.any(String), type: 'not_found_error', param: null, code: 'unsupported_endpoint' } });
    const gemini = await fetch(`${gw.url}/gemini/v1/models/gemini-2.5-flash:generateContent`, { method: 'POST' });
    expect(gemini.status).toBe(404);
    expect(await gemini.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND', details: [{ reason: 'unsupported_endpoint' }] } });
    expect(await decisionRows(gemini.headers.get('x-tollgate-request-id')!)).toMatchObject([{ provider: 'gemini', code: 'unsupported_endpoint' }]);
  });

  it('leaves the forwarded routes as they were', async () => {
    const message = await gw.anthropic(key, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    expect(message.content[0]?.type).toBe('text');
    const res = await fetch(`${gw.url}/anthropic/v1/messages`);
    expect(res.status).toBe(405);
    expect(res.headers.get('x-tollgate-error-code')).toBe('method_not_allowed');
  });
});
