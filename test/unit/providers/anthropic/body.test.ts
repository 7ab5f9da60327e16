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
    expect(anthropic.readBody('/messages', { max_tokens: 1024, n: 4 })).toEqual({ ok: true, outputLimit: 1024, worstOutput: 1024, choices: 1, minOutput: 1 });
    expect(anthropic.readBody('/messages', {})).toEqual({ ok: true, outputLimit: null, worstOutput: 4096, choices: 1, minOutput: 1 });
    expect(anthropic.readBody('/messages', { max_tokens: -1 })).toEqual({ ok: false, message: 'invalid request: max_tokens must be a whole number from 1 to 1000000' });
    expect(anthropic.readBody('/messages/count_tokens', { max_tokens: 1024 })).toEqual({ ok: true, outputLimit: 0, worstOutput: 0, choices: 1, minOutput: 1 });
  });

  it('extended thinking: a clamp leaves room for the least budget and one token, and lowers the budget below it', () => {
    const thinking = { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [] };
    expect(anthropic.readBody('/messages', thinking)).toMatchObject({ ok: true, minOutput: 1025 });
    expect(anthropic.readBody('/messages', { max_tokens: 4096, thinking: { type: 'disabled' } })).toMatchObject({ minOutput: 1 });
    // The case: clamped to 1,000 it was refused (max_tokens must be greater than thinking.budget_tokens).
    expect(anthropic.clampOutput('/messages', thinking, 1500)).toEqual({ ...thinking, max_tokens: 1500, thinking: { type: 'enabled', budget_tokens: 1499 } });
    expect(anthropic.clampOutput('/messages', thinking, 1025)).toMatchObject({ max_tokens: 1025, thinking: { budget_tokens: 1024 } });
    // A budget already below the clamp stays.
    expect(anthropic.clampOutput('/messages', thinking, 3000)).toEqual({ ...thinking, max_tokens: 3000 });
    expect(thinking.thinking.budget_tokens).toBe(2048);
  });
});
