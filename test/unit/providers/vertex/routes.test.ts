import { describe, expect, it } from 'vitest';
import { routePath } from '../../../../src/providers/vertex/routes.js';

const SETTINGS = { baseUrl: 'http://x', project: 'tollgate-billing', location: 'us-east5' };
const route = (path: string, query = '') => routePath(path, new URLSearchParams(query), SETTINGS);
const upstream = (call: ReturnType<typeof route>, model: string) => (call && 'upstreamPath' in call ? call.upstreamPath(model) : undefined);

describe('Vertex AI paths', () => {
  it('reads publisher, model and method, and puts tollgate\'s project and location upstream in place of the agent\'s', () => {
    const call = route('/projects/agent-project/locations/europe-west1/publishers/google/models/gemini-2.5-flash:generateContent');
    expect(call).toMatchObject({ endpoint: 'google:generateContent', model: 'gemini-2.5-flash' });
    expect(upstream(call, 'gemini-2.5-flash-lite')).toBe('/projects/tollgate-billing/locations/us-east5/publishers/google/models/gemini-2.5-flash-lite:generateContent');
    const claude = route('/projects/p-1/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict');
    expect(claude).toMatchObject({ endpoint: 'anthropic:streamRawPredict', model: 'claude-sonnet-4-5@20250929' });
    // '@' stays as it is in the path segment; anything else unsafe is escaped.
    expect(upstream(claude, 'claude-haiku-4-5@20251001')).toBe('/projects/tollgate-billing/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict');
    expect(upstream(claude, 'a/b')).toContain('/models/a%2Fb:');
  });

  it('takes the express-mode path (no project) to tollgate\'s project too', () => {
    const call = route('/publishers/google/models/gemini-2.5-flash:countTokens');
    expect(call).toMatchObject({ endpoint: 'google:countTokens' });
    expect(upstream(call, 'gemini-2.5-flash')).toBe('/projects/tollgate-billing/locations/us-east5/publishers/google/models/gemini-2.5-flash:countTokens');
  });

  it('takes Claude\'s token counting, whose model is in the body', () => {
    const call = route('/projects/p/locations/l/publishers/anthropic/models/count-tokens:rawPredict');
    expect(call).toEqual({ endpoint: 'anthropic:countTokens', upstreamPath: expect.any(Function) });
    expect(upstream(call, 'ignored')).toBe('/projects/tollgate-billing/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict');
    expect(route('/projects/p/locations/l/publishers/anthropic/models/count-tokens:streamRawPredict')).toBeNull();
  });

  it('needs alt=sse on a Gemini stream', () => {
    expect(route('/projects/p/locations/l/publishers/google/models/m:streamGenerateContent')).toMatchObject({ problem: expect.stringContaining('alt=sse') });
    expect(route('/projects/p/locations/l/publishers/google/models/m:streamGenerateContent', 'alt=sse')).toMatchObject({ endpoint: 'google:streamGenerateContent' });
  });

  it('names no call for a method of the other publisher, another method or another path', () => {
    expect(route('/projects/p/locations/l/publishers/google/models/m:rawPredict')).toBeNull();
    expect(route('/projects/p/locations/l/publishers/anthropic/models/m:generateContent')).toBeNull();
    expect(route('/projects/p/locations/l/publishers/google/models/m:predict')).toBeNull();
    expect(route('/projects/p/locations/l/publishers/meta/models/m:rawPredict')).toBeNull();
    expect(route('/projects/p/locations/l/endpoints/123:predict')).toBeNull();
    expect(route('/projects/p/locations/l/publishers/google/models/m:generateContent/extra')).toBeNull();
  });
});
