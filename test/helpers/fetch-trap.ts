/**
 * For SDKs that run in the test's own process: every fetch to a host other than loopback is recorded and refused
 * with a 403 (a client error, so nothing retries it), none leaves the machine. Installed before the clients are
 * made, since some keep the fetch they found.
 */

export type FetchTrap = {
  /** Every refused URL, in order. */
  refused: string[];
  restore(): void;
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function trapFetch(): FetchTrap {
  const original = globalThis.fetch;
  const refused: string[] = [];
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (LOOPBACK.has(url.hostname)) return original(input, init);
    refused.push(url.toString());
    return new Response(null, { status: 403 });
  }) as typeof fetch;
  return { refused, restore: () => void (globalThis.fetch = original) };
}
