import { describe, expect, it } from 'vitest';
import { azure } from '../../../../src/providers/azure/index.js';
import { tokenReuse } from '../../../../src/providers/azure/headers.js';

const ENTRA = { tenantId: 't', clientId: 'c', clientSecret: 's', authorityHost: 'https://login.microsoftonline.com' };

describe('Azure upstream signer', () => {
  it('is built only for an Entra app without a key: a key, when set, is used as before', () => {
    expect(azure.upstreamSigner!({ baseUrl: 'https://r.openai.azure.com', entra: ENTRA })).toBeTypeOf('function');
    expect(azure.upstreamSigner!({ baseUrl: 'https://r.openai.azure.com', apiKey: 'k', entra: ENTRA })).toBeNull();
    expect(azure.upstreamSigner!({ baseUrl: 'https://r.openai.azure.com' })).toBeNull();
    expect(azure.headerRules({ baseUrl: 'https://r.openai.azure.com', entra: ENTRA }).set).toEqual({});
  });
});

describe('Entra token reuse', () => {
  const HOUR = 3_600_000;
  function source() {
    let clock = 0;
    let n = 0;
    const fetches: { resolve: () => void; reject: (err: Error) => void }[] = [];
    const fetch = () => new Promise<{ token: string; expiresOnTimestamp: number }>((resolve, reject) => {
      const token = { token: `t${++n}`, expiresOnTimestamp: clock + HOUR };
      fetches.push({ resolve: () => resolve(token), reject });
    });
    return { fetch, fetches, now: () => clock, advance: (ms: number) => (clock += ms) };
  }

  it('fetches once for a burst of first calls and reuses the token while it is valid', async () => {
    const s = source();
    const token = tokenReuse(s.fetch, s.now);
    const burst = Promise.all([token(), token(), token()]);
    expect(s.fetches).toHaveLength(1);
    s.fetches[0]!.resolve();
    expect(await burst).toEqual(['t1', 't1', 't1']);
    s.advance(HOUR / 2);
    expect(await token()).toBe('t1');
    expect(s.fetches).toHaveLength(1);
  });

  it('renews ahead of expiry while calls keep the valid token; a failed renewal is tried again by the next call', async () => {
    const s = source();
    const token = tokenReuse(s.fetch, s.now);
    const first = token();
    s.fetches[0]!.resolve();
    await first;
    s.advance(HOUR - 4 * 60_000);
    expect(await token()).toBe('t1');
    expect(await token()).toBe('t1');
    expect(s.fetches).toHaveLength(2);
    s.fetches[1]!.reject(new Error('token endpoint down'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await token()).toBe('t1');
    expect(s.fetches).toHaveLength(3);
    s.fetches[2]!.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await token()).toBe('t3');
  });

  it('makes a call wait when no token is valid, and fail with the fetch', async () => {
    const s = source();
    const token = tokenReuse(s.fetch, s.now);
    const first = token();
    s.fetches[0]!.resolve();
    await first;
    s.advance(HOUR);
    const waiting = token();
    s.fetches[1]!.reject(new Error('token endpoint down'));
    await expect(waiting).rejects.toThrow('token endpoint down');
  });
});
