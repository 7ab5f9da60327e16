import { describe, expect, it } from 'vitest';
import { anthropic } from '../../../../src/providers/anthropic/index.js';

describe('anthropic body', () => {
  it('prepareBody sets the served model and never injects anything', () => {
    const body = { model: 'claude-opus-4-1', max_tokens: 10, messages: [], stream: true };
    expect(anthropic.prepareBody('/messages', body, 'claude-sonnet-4-5')).toEqual({
      body: { ...body, model: 'claude-sonnet-4-5' },
      injectedUsage: false,
    });
    expect(body.model).toBe('claude-opus-4-1');
  });

  it('streams only /messages with stream: true', () => {
    expect(anthropic.isStream('/messages', { stream: true })).toBe(true);
    expect(anthropic.isStream('/messages', {})).toBe(false);
    expect(anthropic.isStream('/messages/count_tokens', { stream: true })).toBe(false);
  });

  it('maxOutputTokens: max_tokens, the default when absent, 0 for count_tokens', () => {
    expect(anthropic.maxOutputTokens('/messages', { max_tokens: 1024 })).toBe(1024);
    expect(anthropic.maxOutputTokens('/messages', {})).toBe(4096);
    expect(anthropic.maxOutputTokens('/messages', { max_tokens: -1 })).toBe(4096);
    expect(anthropic.maxOutputTokens('/messages/count_tokens', { max_tokens: 1024 })).toBe(0);
  });
});
