import { describe, expect, it } from 'vitest';
import { readCredential } from '../../../src/identity/authenticate.js';

describe('the agent credential, in the header its SDK sends', () => {
  it('reads Bearer, x-api-key, api-key (Azure) and x-goog-api-key (Gemini)', () => {
    expect(readCredential({ authorization: 'Bearer tg_a' })).toBe('tg_a');
    expect(readCredential({ 'x-api-key': 'tg_b' })).toBe('tg_b');
    expect(readCredential({ 'api-key': ' tg_c ' })).toBe('tg_c');
    expect(readCredential({ 'x-goog-api-key': 'tg_d' })).toBe('tg_d');
  });

  it('takes Authorization first, then the key headers in order, and nothing from empty ones', () => {
    expect(readCredential({ authorization: 'Bearer tg_a', 'api-key': 'tg_c' })).toBe('tg_a');
    expect(readCredential({ 'x-api-key': ' ', 'api-key': 'tg_c', 'x-goog-api-key': 'tg_d' })).toBe('tg_c');
    expect(readCredential({})).toBeUndefined();
  });
});
