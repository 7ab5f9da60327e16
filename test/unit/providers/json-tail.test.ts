import { describe, expect, it } from 'vitest';
import { tailMember } from '../../../src/providers/json.js';

/** The last `n` characters of a document, as the gateway keeps of an answer too large to hold. */
const tailOf = (doc: unknown, n: number) => JSON.stringify(doc).slice(-n);
const USAGE = { prompt_tokens: 8123, total_tokens: 8123 };

describe('the top-level usage from the last bytes of a JSON answer', () => {
  it('finds it last (embeddings, Anthropic) or followed by a few members (chat, Responses)', () => {
    const vectors = Array.from({ length: 200 }, (_, i) => ({ object: 'embedding', index: i, embedding: [0.1, -0.2, 0.3] }));
    expect(tailMember(tailOf({ object: 'list', data: vectors, model: 'm', usage: USAGE }, 300), 'usage')).toEqual(USAGE);
    const chat = { id: 'x', choices: [{ message: { content: 'the "usage": {"prompt_tokens": 1} in text' } }], usage: USAGE, service_tier: 'default', system_fingerprint: 'fp' };
    expect(tailMember(tailOf(chat, 200), 'usage')).toEqual(USAGE);
    const responses = { output: [], usage: { input_tokens: 5, output_tokens: 7 }, user: null, metadata: { a: 'b', usage: 'x' } };
    expect(tailMember(JSON.stringify(responses, null, 2).slice(-150), 'usage')).toEqual({ input_tokens: 5, output_tokens: 7 });
  });

  it('does not take a nested usage, a string "usage", or usage inside text', () => {
    expect(tailMember(tailOf({ data: [{ usage: USAGE }] }, 100), 'usage')).toBeUndefined();
    expect(tailMember(tailOf({ data: [], kind: 'usage' }, 100), 'usage')).toBeUndefined();
    expect(tailMember(tailOf({ text: 'x "usage": {"prompt_tokens": 1}}' }, 100), 'usage')).toBeUndefined();
  });

  it('says nothing when the tail was cut inside it, or the document is not JSON', () => {
    expect(tailMember(tailOf({ data: [], usage: USAGE }, 20), 'usage')).toBeUndefined();
    expect(tailMember('"usage": {"prompt_tokens": 3', 'usage')).toBeUndefined();
    expect(tailMember('', 'usage')).toBeUndefined();
  });
});
