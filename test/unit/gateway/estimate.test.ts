import { describe, expect, it } from 'vitest';
import { promptTokens } from '../../../src/gateway/estimate.js';

describe('promptTokens: the prompt estimate from the text a provider tokenizes', () => {
  it('counts string values and nested keys, ÷ 4, plus one per nested object; not punctuation, numbers or top-level parameter names', () => {
    const body = { model: 'gpt-4.1-mini', max_tokens: 20, temperature: 0.2, stream: true, messages: [{ role: 'user', content: 'Say hi to the team' }] };
    // model (12) + role (4) user (4) content (7) + text (18) = 45 bytes → 12 tokens, + 1 message.
    expect(promptTokens(body)).toBe(12 + 1);
    // The JSON-bytes estimate was about twice that for a call this short.
    expect(Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4)).toBeGreaterThan(2 * promptTokens(body));
  });

  it('counts tool definitions, schemas included, and every part of structured content', () => {
    const body = {
      model: 'm',
      tools: [{ type: 'function', function: { name: 'get_stock', description: 'Stock on hand', parameters: { type: 'object', properties: { sku: { type: 'string' } } } } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }, { type: 'text', text: 'efgh' }] }],
    };
    const text = ['m',
      'type', 'function', 'function', 'name', 'get_stock', 'description', 'Stock on hand', 'parameters', 'type', 'object', 'properties', 'sku', 'type', 'string',
      'role', 'user', 'content', 'type', 'text', 'text', 'abcd', 'type', 'text', 'text', 'efgh'].join('');
    // Objects below the top level: the tool, its function, parameters, properties, sku; the message and its two parts.
    expect(promptTokens(body)).toBe(Math.ceil(Buffer.byteLength(text) / 4) + 8);
  });

  it('counts UTF-8 bytes, so non-Latin text weighs more than its characters', () => {
    const latin = promptTokens({ input: 'a'.repeat(400) });
    const cjk = promptTokens({ input: '字'.repeat(400) });
    expect(latin).toBe(100);
    expect(cjk).toBe(300);
  });

  it('is never below the text of the messages ÷ 4 (what the local fake bills as the prompt)', () => {
    for (const content of ['', 'x', 'a tagline for spring', 'p'.repeat(10_001)]) {
      const body = { model: 'claude-haiku-4-5', max_tokens: 8, system: 'be brief', messages: [{ role: 'user', content }] };
      expect(promptTokens(body)).toBeGreaterThanOrEqual(Math.ceil(`be brief${content}`.length / 4));
    }
  });
});
