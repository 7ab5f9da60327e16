import { describe, expect, it } from 'vitest';
import { guardSigner, SignerCoolingDown } from '../../../src/gateway/signer-guard.js';
import type { UpstreamSigner } from '../../../src/providers/types.js';

const REQUEST = { url: new URL('https://vendor.example/v1/x'), body: '{}' };

/** A credential source that fails while `down`, counting every time it is asked. */
function source() {
  const s = { down: true, asked: 0 };
  const signer: UpstreamSigner = async () => {
    s.asked++;
    if (s.down) throw new Error('token endpoint unavailable');
    return { authorization: 'Bearer t' };
  };
  return { s, signer };
}

describe('guardSigner', () => {
  it('refuses at once during a cool-down that doubles while the source keeps failing, and asks again after it', async () => {
    let now = 0;
    const { s, signer } = source();
    const guarded = guardSigner(signer, { firstMs: 1000, maxMs: 4000 }, () => now);

    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    expect(s.asked).toBe(1);
    now = 999;
    const cooling = await guarded(REQUEST).catch((e: unknown) => e);
    expect(cooling).toBeInstanceOf(SignerCoolingDown);
    expect((cooling as SignerCoolingDown).retryAfterMs).toBe(1);
    expect((cooling as SignerCoolingDown).cause).toBeInstanceOf(Error);
    expect(s.asked).toBe(1);

    // Over: asked again; still failing, the next cool-down is twice as long, then capped.
    now = 1000;
    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    expect(s.asked).toBe(2);
    now = 2999;
    await expect(guarded(REQUEST)).rejects.toBeInstanceOf(SignerCoolingDown);
    now = 3000;
    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    now = 6999;
    await expect(guarded(REQUEST)).rejects.toBeInstanceOf(SignerCoolingDown);
    now = 7000;
    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    now = 10_999;
    await expect(guarded(REQUEST)).rejects.toBeInstanceOf(SignerCoolingDown);
    expect(s.asked).toBe(4);

    // Back: the first call after the cool-down is signed, and a later failure starts again from the first length.
    s.down = false;
    now = 11_000;
    await expect(guarded(REQUEST)).resolves.toEqual({ authorization: 'Bearer t' });
    s.down = true;
    now = 20_000;
    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    now = 21_000;
    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    expect(s.asked).toBe(7);
  });

  it('starts one cool-down for calls that failed together, not one each', async () => {
    let now = 0;
    const { s, signer } = source();
    const guarded = guardSigner(signer, { firstMs: 1000, maxMs: 30_000 }, () => now);
    await Promise.all([guarded(REQUEST), guarded(REQUEST), guarded(REQUEST)].map((p) => p.catch(() => undefined)));
    expect(s.asked).toBe(3);
    now = 1000;
    // Had each failure doubled it, the cool-down would run to 8 s.
    await expect(guarded(REQUEST)).rejects.toThrow('token endpoint unavailable');
    expect(s.asked).toBe(4);
  });
});
