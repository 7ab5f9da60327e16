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

  it('readBody: max_tokens, the default when absent, no output for count_tokens, never n', () => {
    expect(anthropic.readBody('/messages', { max_tokens: 1024, n: 4 })).toEqual({ ok: true, outputLimit: 1024, worstOutput: 1024, choices: 1 });
    expect(anthropic.readBody('/messages', {})).toEqual({ ok: true, outputLimit: null, worstOutput: 4096, choices: 1 });
    expect(anthropic.readBody('/messages', { max_tokens: -1 })).toEqual({ ok: false, message: 'invalid request: max_tokens must be a whole number from 1 to 1000000' });
    expect(anthropic.readBody('/messages/count_tokens', { max_tokens: 1024 })).toEqual({ ok: true, outputLimit: 0, worstOutput: 0, choices: 1 });
  });
});
