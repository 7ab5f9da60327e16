import { describe, expect, it } from 'vitest';
import { routePath } from '../../../../src/providers/azure/routes.js';

const route = (path: string, query = 'api-version=2024-10-21') => routePath(path, new URLSearchParams(query));

describe('Azure OpenAI paths', () => {
  it('reads the deployment from the path and puts the served one there', () => {
    const call = route('/deployments/marketing-gpt41/chat/completions');
    expect(call).toMatchObject({ endpoint: '/chat/completions', model: 'marketing-gpt41' });
    expect(call && 'upstreamPath' in call && call.upstreamPath('gpt-4.1-mini')).toBe('/deployments/gpt-4.1-mini/chat/completions');
    expect(route('/deployments/emb/embeddings')).toMatchObject({ endpoint: '/embeddings', model: 'emb' });
  });

  it('leaves the model to the body on /responses and the v1 routes', () => {
    const responses = route('/responses');
    expect(responses).toMatchObject({ endpoint: '/responses' });
    expect(responses && 'model' in responses ? responses.model : undefined).toBeUndefined();
    expect(route('/v1/chat/completions', '')).toMatchObject({ endpoint: '/chat/completions' });
    expect(route('/v1/embeddings', '')).toMatchObject({ endpoint: '/embeddings' });
  });

  it('needs api-version where Azure does', () => {
    expect(route('/deployments/gpt-4.1/chat/completions', '')).toEqual({ problem: expect.stringContaining('api-version') });
    expect(route('/responses', '')).toEqual({ problem: expect.stringContaining('api-version') });
  });

  it('knows no other path', () => {
    for (const path of ['/deployments/gpt-4.1/completions', '/deployments/a b/chat/completions', '/chat/completions', '/v1/models', '/deployments//chat/completions']) {
      expect(route(path)).toBeNull();
    }
  });
});
