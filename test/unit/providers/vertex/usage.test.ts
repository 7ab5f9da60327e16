import { describe, expect, it } from 'vitest';
import { badUsage, modelFromBody, streamReader, usageFromBody } from '../../../../src/providers/vertex/usage.js';

describe('Vertex AI usage, per publisher', () => {
  it('reads Gemini\'s usageMetadata: cached tokens apart, thinking as output', () => {
    const body = { candidates: [], usageMetadata: { promptTokenCount: 100, cachedContentTokenCount: 40, candidatesTokenCount: 10, thoughtsTokenCount: 5 }, modelVersion: 'gemini-2.5-flash' };
    expect(usageFromBody('google:generateContent', body)).toEqual({ input_tokens: 60, cached_input_tokens: 40, cache_write_tokens: 0, output_tokens: 15 });
    expect(usageFromBody('google:countTokens', { totalTokens: 9 })).toEqual({ input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
    expect(modelFromBody(body)).toBe('gemini-2.5-flash');
  });

  it('reads Claude\'s usage: cache reads and writes beside the input', () => {
    const body = { model: 'claude-sonnet-4-5@20250929', usage: { input_tokens: 12, cache_read_input_tokens: 30, cache_creation_input_tokens: 8, output_tokens: 20 } };
    expect(usageFromBody('anthropic:rawPredict', body)).toEqual({ input_tokens: 12, cached_input_tokens: 30, cache_write_tokens: 8, output_tokens: 20 });
    expect(modelFromBody(body)).toBe('claude-sonnet-4-5@20250929');
    expect(badUsage('anthropic:rawPredict', { usage: { input_tokens: 1.5, output_tokens: 2 } })).toEqual({ input_tokens: 1.5, output_tokens: 2 });
  });

  it('reads each publisher\'s stream', () => {
    const gemini = streamReader('google:streamGenerateContent');
    gemini.push(undefined, JSON.stringify({ candidates: [{ content: { parts: [{ text: 'a' }] } }], usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1 } }));
    gemini.push(undefined, JSON.stringify({ candidates: [{ content: { parts: [{ text: 'b' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2 } }));
    expect(gemini.result()).toMatchObject({ complete: true, usage: { input_tokens: 4, output_tokens: 2 } });
    const claude = streamReader('anthropic:streamRawPredict');
    claude.push('message_start', JSON.stringify({ type: 'message_start', message: { model: 'claude-haiku-4-5@20251001', usage: { input_tokens: 7, cache_read_input_tokens: 3, output_tokens: 1 } } }));
    expect(claude.result().complete).toBe(false);
    claude.push('message_delta', JSON.stringify({ type: 'message_delta', usage: { output_tokens: 9 } }));
    expect(claude.result()).toMatchObject({ complete: true, servedModel: 'claude-haiku-4-5@20251001', usage: { input_tokens: 7, cached_input_tokens: 3, output_tokens: 9 } });
  });
});
