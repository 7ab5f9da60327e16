import { describe, expect, it } from 'vitest';
import { openai } from '../../../../src/providers/openai/index.js';

const messages = [{ role: 'user', content: 'hi' }];

describe('openai prepareBody', () => {
  it('sets the served model and leaves the client body untouched', () => {
    const body = { model: 'gpt-4o', messages };
    const prepared = openai.prepareBody('/chat/completions', body, 'gpt-4o-mini');
    expect(prepared).toEqual({ body: { model: 'gpt-4o-mini', messages }, injectedUsage: false });
    expect(body.model).toBe('gpt-4o');
  });

  it('asks a chat stream for usage when the client did not, keeping its other stream options', () => {
    const body = { model: 'gpt-4o', messages, stream: true, stream_options: { include_obfuscation: false } };
    expect(openai.prepareBody('/chat/completions', body, 'gpt-4o')).toEqual({
      body: { ...body, stream_options: { include_obfuscation: false, include_usage: true } },
      injectedUsage: true,
    });
    expect(openai.prepareBody('/chat/completions', { ...body, stream_options: { include_usage: false } }, 'gpt-4o').injectedUsage).toBe(true);
  });

  it('injects nothing when the client asked for usage, for non-streams, and for responses streams', () => {
    const asked = { model: 'm', messages, stream: true, stream_options: { include_usage: true } };
    expect(openai.prepareBody('/chat/completions', asked, 'm')).toEqual({ body: asked, injectedUsage: false });
    expect(openai.prepareBody('/chat/completions', { model: 'm', messages }, 'm').injectedUsage).toBe(false);
    const responses = openai.prepareBody('/responses', { model: 'm', input: 'x', stream: true }, 'm');
    expect(responses).toEqual({ body: { model: 'm', input: 'x', stream: true }, injectedUsage: false });
  });
});

describe('openai isStream and readBody', () => {
  it('streams only chat and responses with stream: true', () => {
    expect(openai.isStream('/chat/completions', { stream: true })).toBe(true);
    expect(openai.isStream('/responses', { stream: true })).toBe(true);
    expect(openai.isStream('/chat/completions', { stream: 'yes' })).toBe(false);
    expect(openai.isStream('/embeddings', { stream: true })).toBe(false);
  });

  it('chat: the larger of max_completion_tokens and max_tokens, else the default; n answers', () => {
    expect(openai.readBody('/chat/completions', { max_completion_tokens: 100, max_tokens: 50 })).toEqual({ ok: true, outputLimit: 100, worstOutput: 100, choices: 1, minOutput: 1 });
    expect(openai.readBody('/chat/completions', { max_completion_tokens: null, max_tokens: 50, n: 3 })).toEqual({ ok: true, outputLimit: 50, worstOutput: 50, choices: 3, minOutput: 1 });
    expect(openai.readBody('/chat/completions', { n: null })).toEqual({ ok: true, outputLimit: null, worstOutput: 4096, choices: 1, minOutput: 1 });
  });

  it('responses: max_output_tokens, and no n; embeddings: no output', () => {
    expect(openai.readBody('/responses', { max_output_tokens: 300, n: 5 })).toEqual({ ok: true, outputLimit: 300, worstOutput: 300, choices: 1, minOutput: 1 });
    expect(openai.readBody('/responses', { max_tokens: 300 })).toMatchObject({ outputLimit: null, worstOutput: 4096 });
    expect(openai.readBody('/embeddings', { max_tokens: 'lots' })).toEqual({ ok: true, outputLimit: 0, worstOutput: 0, choices: 1, minOutput: 1 });
  });

  // Issue 16 items 5 and 8: these were a silent 4096 (or a 500), and n was not counted at all.
  it.each([
    ['max_tokens', 1e16], ['max_tokens', 2 ** 53], ['max_tokens', 10.5], ['max_tokens', -1], ['max_tokens', 0], ['max_tokens', '100'],
    ['max_completion_tokens', 1_000_001], ['n', 0], ['n', 129], ['n', 1.5], ['n', '2'],
  ])('refuses %s = %j, naming the field', (field, value) => {
    const r = openai.readBody('/chat/completions', { model: 'gpt-4o', [field]: value });
    expect(r).toEqual({ ok: false, message: expect.stringMatching(new RegExp(`^invalid request: ${field} must be a whole number from 1 to \\d+$`)) });
  });

  it('refuses a model name no provider has', () => {
    expect(openai.readBody('/chat/completions', { model: 'x'.repeat(257) })).toMatchObject({ ok: false, message: expect.stringContaining('model') });
    expect(openai.readBody('/chat/completions', { model: 'gpt\u00004o' })).toMatchObject({ ok: false });
    expect(openai.readBody('/chat/completions', { model: 'ft:gpt-4o-mini:org:custom@2024/x' })).toMatchObject({ ok: true });
  });

  it('clamps every output field set to at most the limit, or sets the first one', () => {
    expect(openai.clampOutput('/chat/completions', { max_completion_tokens: 900, max_tokens: 100 }, 300)).toEqual({ max_completion_tokens: 300, max_tokens: 100 });
    expect(openai.clampOutput('/chat/completions', { n: 4 }, 300)).toEqual({ n: 4, max_completion_tokens: 300 });
    expect(openai.clampOutput('/embeddings', { input: 'x' }, 300)).toEqual({ input: 'x' });
  });
});
