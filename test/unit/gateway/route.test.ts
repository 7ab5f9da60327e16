import { describe, expect, it } from 'vitest';
import { routeOf, treeOf } from '../../../src/gateway/route.js';
import { anthropic } from '../../../src/providers/anthropic/index.js';
import { azure } from '../../../src/providers/azure/index.js';
import { gemini } from '../../../src/providers/gemini/index.js';
import { openai } from '../../../src/providers/openai/index.js';
import { vertex } from '../../../src/providers/vertex/index.js';

describe('the call a URL names', () => {
  it('OpenAI and Anthropic: the path after the prefix is the endpoint; the proxy rewrites the URL', () => {
    expect(routeOf(openai, '/openai/v1/chat/completions?x=1')).toEqual({ endpoint: '/chat/completions', known: true });
    expect(routeOf(anthropic, '/anthropic/v1/messages/count_tokens')).toEqual({ endpoint: '/messages/count_tokens', known: true });
    expect(routeOf(openai, '/openai/v1/files')).toEqual({ endpoint: '/files', known: false });
  });

  it('Azure: the deployment from the path, the served one upstream, only api-version in the query', () => {
    const route = routeOf(azure, '/azure/openai/deployments/marketing-gpt41/chat/completions?api-version=2024-10-21&key=leak&x=1');
    expect(route).toMatchObject({ endpoint: '/chat/completions', known: true, model: 'marketing-gpt41' });
    expect(route.upstreamUrl?.('gpt-4.1-mini')).toBe('/openai/deployments/gpt-4.1-mini/chat/completions?api-version=2024-10-21');
    expect(routeOf(azure, '/azure/openai/v1/responses').upstreamUrl?.('ignored')).toBe('/openai/v1/responses');
  });

  it('Gemini: the model and method from the path; alt kept, a key in the query dropped', () => {
    const route = routeOf(gemini, '/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=tg_secret');
    expect(route).toMatchObject({ endpoint: ':streamGenerateContent', known: true, model: 'gemini-2.5-flash' });
    expect(route.upstreamUrl?.('gemini-2.5-flash-lite')).toBe('/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse');
  });

  it('a known call refused for its URL, and an unknown one', () => {
    expect(routeOf(gemini, '/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent')).toMatchObject({ known: true, problem: expect.stringContaining('alt=sse') });
    expect(routeOf(azure, '/azure/openai/deployments/d/chat/completions')).toMatchObject({ known: true, problem: expect.stringContaining('api-version') });
    expect(routeOf(azure, '/azure/openai/chat/completions?api-version=1')).toEqual({ endpoint: '/chat/completions', known: false });
    expect(routeOf(gemini, '/gemini/v1beta/models/gemini-2.5-flash:embedContent')).toMatchObject({ known: false });
  });
});

describe('a vendor served under two API versions (Vertex AI v1 and v1beta1)', () => {
  const settings = { baseUrl: 'https://us-central1-aiplatform.googleapis.com', project: 'billing', location: 'us-central1' };
  const path = (version: string) => `/vertex/${version}/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent`;

  it('picks the tree by whole segment: /vertex/v1 is not the prefix of /vertex/v1beta1', () => {
    expect(treeOf(vertex, path('v1beta1'))).toEqual({ prefix: '/vertex/v1beta1', upstreamPrefix: '/v1beta1' });
    expect(treeOf(vertex, path('v1'))).toEqual({ prefix: '/vertex/v1', upstreamPrefix: '/v1' });
    expect(treeOf(openai, '/openai/v1/chat/completions')).toEqual({ prefix: '/openai/v1', upstreamPrefix: '/v1' });
  });

  it('sends each call upstream under the version it was called with, on tollgate\'s project', () => {
    for (const version of ['v1', 'v1beta1']) {
      const call = routeOf(vertex, path(version), settings as never);
      expect(call).toMatchObject({ endpoint: 'google:generateContent', known: true, model: 'gemini-2.5-flash' });
      expect(call.upstreamUrl!('gemini-2.5-flash-lite')).toBe(`/${version}/projects/billing/locations/us-central1/publishers/google/models/gemini-2.5-flash-lite:generateContent`);
    }
    expect(routeOf(vertex, '/vertex/v2/projects/p/locations/l/publishers/google/models/m:generateContent', settings as never).known).toBe(false);
  });
});
