import type { UpstreamSigner } from '../providers/types.js';

/** How long calls are refused at once after the vendor credential source failed, doubling while it keeps failing. */
export const SIGNER_COOLDOWN = Object.freeze({ firstMs: 1000, maxMs: 30_000 });

/** A call refused during a cool-down: the source was not asked; `retryAfterMs` is what is left of the cool-down. */
export class SignerCoolingDown extends Error {
  constructor(readonly retryAfterMs: number, readonly last: unknown) {
    super(`the vendor credential source failed ${Math.ceil(retryAfterMs / 1000)} s ago at most; not asked again until then`, { cause: last });
    this.name = 'SignerCoolingDown';
  }
}

/**
 * A vendor credential source that fails (a token endpoint down, a credential chain that finds nothing) is not
 * asked again by every call: after a failure calls are refused at once for a cool-down that starts at a second
 * and doubles while the source keeps failing, up to 30 s; the first call after it asks again, and a success ends
 * it. Without the guard each call waited out the credential library's own retries (about 4 s for
 * google-auth-library) before being refused, and an outage sent every call's grant to the endpoint. Calls that
 * ask while a failing attempt is still under way wait for it, as the libraries share one refresh.
 */
export function guardSigner(signer: UpstreamSigner, cooldown: { firstMs: number; maxMs: number } = SIGNER_COOLDOWN, now: () => number = Date.now): UpstreamSigner {
  let until = 0;
  let nextMs = cooldown.firstMs;
  let last: unknown;
  return async (request) => {
    const left = until - now();
    if (left > 0) throw new SignerCoolingDown(left, last);
    try {
      const headers = await signer(request);
      until = 0;
      nextMs = cooldown.firstMs;
      return headers;
    } catch (err) {
      last = err;
      // Calls that failed together start one cool-down, not one each.
      if (until <= now()) {
        until = now() + nextMs;
        nextMs = Math.min(nextMs * 2, cooldown.maxMs);
      }
      throw err;
    }
  };
}
