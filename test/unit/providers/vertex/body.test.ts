import { describe, expect, it } from 'vitest';
import { clampOutput, isBilled, isStream, prepareBody, readBody } from '../../../../src/providers/vertex/body.js';

describe('Vertex AI bodies, per publisher', () => {
  it('reads Gemini\'s generationConfig and Claude\'s max_tokens', () => {
    expect(readBody('google:generateContent', { generationConfig: { maxOutputTokens: 50, candidateCount: 2 } })).toMatchObject({ ok: true, outputLimit: 50, choices: 2 });
    expect(readBody('anthropic:rawPredict', { max_tokens: 300, messages: [] })).toMatchObject({ ok: true, outputLimit: 300, choices: 1 });
    expect(readBody('anthropic:rawPredict', { max_tokens: 0 })).toMatchObject({ ok: false, message: expect.stringContaining('max_tokens') });
    expect(readBody('google:generateContent', { generationConfig: { maxOutputTokens: -1 } })).toMatchObject({ ok: false, message: expect.stringContaining('generationConfig.maxOutputTokens') });
    expect(readBody('google:countTokens', {})).toMatchObject({ ok: true, outputLimit: 0 });
  });

  it('needs room for the least thinking budget on Claude, and clamps the budget below max_tokens', () => {
    const body = { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 } };
    expect(readBody('anthropic:streamRawPredict', body)).toMatchObject({ ok: true, minOutput: 1025 });
    expect(clampOutput('anthropic:streamRawPredict', body, 1500)).toEqual({ max_tokens: 1500, thinking: { type: 'enabled', budget_tokens: 1499 } });
    expect(clampOutput('google:generateContent', { generationConfig: { maxOutputTokens: 800 } }, 100)).toEqual({ generationConfig: { maxOutputTokens: 100 } });
  });

  it('sends a Claude body without a model (Vertex takes it from the path), a Gemini body as it came', () => {
    expect(prepareBody('anthropic:rawPredict', { model: 'x', anthropic_version: 'vertex-2023-10-16', max_tokens: 5 }, 'claude-haiku-4-5@20251001').body)
      .toEqual({ anthropic_version: 'vertex-2023-10-16', max_tokens: 5 });
    const gemini = { contents: [] };
    expect(prepareBody('google:generateContent', gemini, 'gemini-2.5-flash').body).toBe(gemini);
    // Claude's token counting names the model in the body: the one served.
    expect(prepareBody('anthropic:countTokens', { model: 'claude-sonnet-4-5', messages: [] }, 'claude-haiku-4-5@20251001').body).toEqual({ model: 'claude-haiku-4-5@20251001', messages: [] });
  });

  it('streams by method, and bills all but countTokens', () => {
    expect([isStream('google:streamGenerateContent'), isStream('anthropic:streamRawPredict'), isStream('anthropic:rawPredict'), isStream('google:generateContent')]).toEqual([true, true, false, false]);
    expect([isBilled('google:countTokens'), isBilled('anthropic:countTokens'), isBilled('google:generateContent'), isBilled('anthropic:rawPredict')]).toEqual([false, false, true, true]);
  });
});
