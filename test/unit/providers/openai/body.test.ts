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

describe('openai isStream and maxOutputTokens', () => {
  it('streams only chat and responses with stream: true', () => {
    expect(openai.isStream('/chat/completions', { stream: true })).toBe(true);
    expect(openai.isStream('/responses', { stream: true })).toBe(true);
    expect(openai.isStream('/chat/completions', { stream: 'yes' })).toBe(false);
    expect(openai.isStream('/embeddings', { stream: true })).toBe(false);
  });

  it('chat: max_completion_tokens, else max_tokens, else the default', () => {
    expect(openai.maxOutputTokens('/chat/completions', { max_completion_tokens: 100, max_tokens: 50 })).toBe(100);
    expect(openai.maxOutputTokens('/chat/completions', { max_completion_tokens: null, max_tokens: 50 })).toBe(50);
    expect(openai.maxOutputTokens('/chat/completions', {})).toBe(4096);
    expect(openai.maxOutputTokens('/chat/completions', { max_tokens: 'lots' })).toBe(4096);
  });

  it('responses: max_output_tokens; embeddings: none', () => {
    expect(openai.maxOutputTokens('/responses', { max_output_tokens: 300 })).toBe(300);
    expect(openai.maxOutputTokens('/responses', { max_tokens: 300 })).toBe(4096);
    expect(openai.maxOutputTokens('/embeddings', { max_tokens: 300 })).toBe(0);
  });
});
