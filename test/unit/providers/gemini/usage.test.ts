import { describe, expect, it } from 'vitest';
import { badUsage, modelFromBody, streamReader, usageFromBody } from '../../../../src/providers/gemini/usage.js';

const answer = (usageMetadata: unknown, extra: object = {}) => ({ candidates: [{ content: { parts: [{ text: 'hi' }], role: 'model' }, finishReason: 'STOP' }], usageMetadata, modelVersion: 'gemini-2.5-flash', ...extra });

describe('Gemini usageMetadata', () => {
  it('keeps cached tokens apart from the prompt, and bills thinking and tool-use prompts', () => {
    const usage = usageFromBody(':generateContent', answer({
      promptTokenCount: 100, cachedContentTokenCount: 60, candidatesTokenCount: 20, thoughtsTokenCount: 7, toolUsePromptTokenCount: 5, totalTokenCount: 132,
    }));
    expect(usage).toEqual({ input_tokens: 45, cached_input_tokens: 60, cache_write_tokens: 0, output_tokens: 27 });
  });

  it('reads a plain report, and none when there is none', () => {
    expect(usageFromBody(':generateContent', answer({ promptTokenCount: 3, candidatesTokenCount: 4 }))).toEqual({ input_tokens: 3, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 4 });
    expect(usageFromBody(':generateContent', { candidates: [] })).toBeNull();
    expect(usageFromBody(':generateContent', answer({ totalTokenCount: 9 }))).toBeNull();
  });

  it('never bills countTokens', () => {
    expect(usageFromBody(':countTokens', { totalTokens: 50 })).toEqual({ input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
    expect(badUsage(':countTokens', { totalTokens: -1 })).toBeUndefined();
  });

  it('refuses a count that is not a count, and says what it was', () => {
    const body = answer({ promptTokenCount: 1.5, candidatesTokenCount: 4 });
    expect(usageFromBody(':generateContent', body)).toBeNull();
    expect(badUsage(':generateContent', body)).toEqual({ promptTokenCount: 1.5, candidatesTokenCount: 4 });
    // A cached count larger than the prompt cannot make the input negative.
    expect(usageFromBody(':generateContent', answer({ promptTokenCount: 2, cachedContentTokenCount: 9, candidatesTokenCount: 1 }))?.input_tokens).toBe(0);
  });

  it('names the model version that served the call', () => {
    expect(modelFromBody(answer({}))).toBe('gemini-2.5-flash');
  });
});

describe('Gemini stream reader', () => {
  const chunk = (text: string, candidates: number, finished = false, extra: object = {}) => JSON.stringify({
    candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0, ...(finished ? { finishReason: 'STOP' } : {}) }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: candidates, totalTokenCount: 10 + candidates }, modelVersion: 'gemini-2.5-flash-lite', ...extra,
  });

  it('takes the running usage, complete only once a candidate finished', () => {
    const reader = streamReader(':streamGenerateContent');
    reader.push(undefined, chunk('a', 1));
    reader.push(undefined, chunk(' b', 2));
    expect(reader.result()).toMatchObject({ complete: false, deltas: 2, usage: { input_tokens: 10, output_tokens: 2 }, servedModel: 'gemini-2.5-flash-lite' });
    reader.push(undefined, chunk(' c', 3, true));
    expect(reader.result()).toMatchObject({ complete: true, deltas: 3, usage: { input_tokens: 10, output_tokens: 3 } });
  });

  it('collects the functions called, and survives what is not JSON', () => {
    const reader = streamReader(':streamGenerateContent');
    reader.push(undefined, 'not json');
    reader.push(undefined, JSON.stringify({ candidates: [{ content: { parts: [{ functionCall: { name: 'get_weather', args: {} } }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 6 } }));
    expect(reader.tools()).toEqual(['get_weather']);
    expect(reader.result().complete).toBe(true);
  });

  it('flags a report whose counts are not counts and does not take it', () => {
    const reader = streamReader(':streamGenerateContent');
    reader.push(undefined, JSON.stringify({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 'many', candidatesTokenCount: 1 } }));
    expect(reader.result()).toMatchObject({ complete: false, invalidUsage: { promptTokenCount: '"many"', candidatesTokenCount: 1 } });
  });
});
