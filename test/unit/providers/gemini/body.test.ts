import { describe, expect, it } from 'vitest';
import { clampOutput, isBilled, isStream, readBody } from '../../../../src/providers/gemini/body.js';
import { routePath } from '../../../../src/providers/gemini/routes.js';
import { requestTools, toolsFromBody } from '../../../../src/providers/gemini/tools.js';
import { errorBody } from '../../../../src/providers/gemini/errors.js';

describe('Gemini paths', () => {
  const route = (path: string, query = '') => routePath(path, new URLSearchParams(query));

  it('names the method as the endpoint and the model from the path', () => {
    const call = route('/models/gemini-2.5-flash:generateContent');
    expect(call).toMatchObject({ endpoint: ':generateContent', model: 'gemini-2.5-flash' });
    expect(call && 'upstreamPath' in call && call.upstreamPath('gemini-2.5-flash-lite')).toBe('/models/gemini-2.5-flash-lite:generateContent');
    expect(route('/models/gemini-2.5-flash:countTokens')).toMatchObject({ endpoint: ':countTokens' });
  });

  it('needs alt=sse on a stream', () => {
    expect(route('/models/gemini-2.5-flash:streamGenerateContent')).toEqual({ problem: expect.stringContaining('alt=sse') });
    expect(route('/models/gemini-2.5-flash:streamGenerateContent', 'alt=sse')).toMatchObject({ endpoint: ':streamGenerateContent' });
  });

  it('knows no other method or path', () => {
    for (const path of ['/models/gemini-2.5-flash:embedContent', '/models', '/models/a/b:generateContent', '/tunedModels/x:generateContent', '/models/:generateContent']) {
      expect(route(path)).toBeNull();
    }
  });
});

describe('Gemini bodies', () => {
  it('reads the output limit and candidates from generationConfig', () => {
    expect(readBody(':generateContent', { generationConfig: { maxOutputTokens: 100, candidateCount: 3 } })).toMatchObject({ ok: true, outputLimit: 100, worstOutput: 100, choices: 3 });
    expect(readBody(':generateContent', {})).toMatchObject({ ok: true, outputLimit: null, choices: 1 });
    expect(readBody(':countTokens', { generationConfig: { maxOutputTokens: 100 } })).toMatchObject({ ok: true, outputLimit: 0, worstOutput: 0 });
  });

  it('refuses a limit or a count out of range, naming the field', () => {
    expect(readBody(':generateContent', { generationConfig: { maxOutputTokens: 0 } })).toEqual({ ok: false, message: expect.stringContaining('generationConfig.maxOutputTokens') });
    expect(readBody(':generateContent', { generationConfig: { candidateCount: 9 } })).toEqual({ ok: false, message: expect.stringContaining('generationConfig.candidateCount') });
    expect(readBody(':generateContent', { generationConfig: 'x' })).toEqual({ ok: false, message: 'invalid request: generationConfig must be an object' });
  });

  it('clamps maxOutputTokens, keeping the rest of generationConfig', () => {
    expect(clampOutput(':generateContent', { generationConfig: { maxOutputTokens: 500, temperature: 0.2 } }, 64)).toEqual({ generationConfig: { maxOutputTokens: 64, temperature: 0.2 } });
    expect(clampOutput(':generateContent', { generationConfig: { maxOutputTokens: 10 } }, 64)).toEqual({ generationConfig: { maxOutputTokens: 10 } });
    expect(clampOutput(':streamGenerateContent', { contents: [] }, 64)).toEqual({ contents: [], generationConfig: { maxOutputTokens: 64 } });
    expect(clampOutput(':countTokens', { contents: [] }, 64)).toEqual({ contents: [] });
  });

  it('streams by method; countTokens is free', () => {
    expect([isStream(':streamGenerateContent'), isStream(':generateContent')]).toEqual([true, false]);
    expect([isBilled(':countTokens'), isBilled(':generateContent')]).toEqual([false, true]);
  });
});

describe('Gemini tools and errors', () => {
  it('names declared functions and built-in tools, and the functions an answer calls', () => {
    expect(requestTools(':generateContent', { tools: [{ functionDeclarations: [{ name: 'get_weather' }, { name: 'bad name!' }] }, { googleSearch: {} }] })).toEqual(['get_weather', 'googleSearch']);
    expect(requestTools(':countTokens', { tools: [{ googleSearch: {} }] })).toEqual([]);
    expect(toolsFromBody(':generateContent', { candidates: [{ content: { parts: [{ text: 'x' }, { functionCall: { name: 'lookup', args: {} } }] } }] })).toEqual(['lookup']);
  });

  it("answers in Google's shape with tollgate's code as the ErrorInfo reason", () => {
    expect(errorBody({ status: 429, code: 'budget_busy', message: 'retry shortly' })).toEqual({
      error: { code: 429, message: 'retry shortly', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'budget_busy', domain: 'tollgate' }] },
    });
    expect((errorBody({ status: 401, code: 'invalid_credential', message: 'm' }) as { error: { status: string } }).error.status).toBe('UNAUTHENTICATED');
  });

  it('marks a hard cap as a quota that will not come back soon (QuotaFailure, RetryInfo over 300 s), not budget_busy', () => {
    for (const code of ['budget_exhausted', 'session_budget_exhausted']) {
      const { error } = errorBody({ status: 429, code, message: 'at its hard cap' }) as { error: { details: Record<string, unknown>[] } };
      expect(error.details).toEqual([
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: code, domain: 'tollgate' },
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ subject: expect.stringContaining('tollgate'), description: 'at its hard cap', quotaId: `tollgate-${code}` }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: expect.stringMatching(/^\d+s$/) },
      ]);
      // Gemini CLI stops retrying past 300 s (MAX_RETRYABLE_DELAY_SECONDS in its classifyGoogleError).
      expect(Number.parseInt(String(error.details[2]!.retryDelay), 10)).toBeGreaterThan(300);
    }
  });
});
