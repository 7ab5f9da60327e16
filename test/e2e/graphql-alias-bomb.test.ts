import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiToken, insertApiToken, type ApiRole } from '../../src/db/api-tokens.js';
import { writeBatch } from '../../src/db/ledger.js';
import { syntheticDecisions, syntheticUsage } from '../integration/fixtures/analytics.js';
import { startGateway, tagHeaders, WRITER, type Gateway } from '../helpers/gateway.js';
import { watchEventLoop } from '../helpers/event-loop.js';
import { worstQueries } from '../helpers/worst-queries.js';

/**
 * Issue 16, item 9: 300,000 `__typename` aliases from a BU owner's token held the event loop 10 s, and the
 * gateway calls of the same process (role `all`, the default) waited as long. The bomb is now refused
 * unread, and the costliest documents the limits accept hold the loop briefly: gateway calls go on.
 * The bounds are generous on purpose (a loaded 2-core machine; the bomb took 10 s); `test/bench/graphql-limits.ts`
 * prints the figures.
 */

const PERIOD = '2026-11';
// Generous on purpose: with PGlite the chargebacks' SQL runs on this thread, and beside the rest of the
// suite on 2 cores a 215 ms block was measured at 2.3 s. The bomb itself is refused (first test); these
// bounds only catch an accepted document regaining the bomb's order of magnitude (10 s on a quiet machine).
const MAX_LOOP_BLOCK_MS = 5000;
const MAX_GATEWAY_CALL_MS = 8000;

let gw: Gateway;
let key: string;

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.key('campaign-writer');
  await writeBatch(gw.app.tollgate.db, [...syntheticUsage(2000, 'bomb'), ...syntheticDecisions(400, 'bombd')]);
});
afterAll(async () => gw?.close());

async function token(role: ApiRole, bu?: string): Promise<string> {
  const t = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role, buId: bu });
  return t.token;
}

async function graphql(t: string, query: string): Promise<{ status: number; body: { data?: unknown; errors?: { extensions?: { code?: string } }[] } }> {
  const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` }, body: JSON.stringify({ query }) });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
}

/** Gateway calls one after another until `stop`; each call's status and wall time. */
function gatewayCalls(stop: { done: boolean }): Promise<{ status: number; ms: number }[]> {
  const body = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...tagHeaders(WRITER) };
  return (async () => {
    const calls: { status: number; ms: number }[] = [];
    while (!stop.done) {
      const start = performance.now();
      const res = await fetch(`${gw.url}/openai/v1/chat/completions`, { method: 'POST', headers, body });
      await res.arrayBuffer();
      calls.push({ status: res.status, ms: performance.now() - start });
    }
    return calls;
  })();
}

describe('GraphQL alias bomb', () => {
  it('is refused unread (413 QUERY_TOO_LARGE) from a BU owner, while gateway calls on the same process go on', async () => {
    const owner = await token('bu-owner', 'marketing');
    const bomb = `{ ${Array.from({ length: 300_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const stop = { done: false };
    const calls = gatewayCalls(stop);
    const start = performance.now();
    const r = await graphql(owner, bomb);
    const bombMs = performance.now() - start;
    stop.done = true;
    expect(r.status).toBe(413);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_LARGE');
    expect(bombMs).toBeLessThan(MAX_GATEWAY_CALL_MS);
    const done = await calls;
    expect(done.every((c) => c.status === 200)).toBe(true);
  });

  it('accepts the worst documents within the limits, and they hold the event loop briefly', async () => {
    const admin = await token('admin');
    const queries = worstQueries(PERIOD);
    for (const [name, q] of Object.entries(queries)) {
      const r = await graphql(admin, q);
      expect({ name, status: r.status, errors: r.body.errors }).toEqual({ name, status: 200, errors: undefined });
    }
    const stop = { done: false };
    const calls = gatewayCalls(stop);
    const loop = watchEventLoop();
    for (let round = 0; round < 3; round++) {
      // A new source each round: mercurius caches a parsed and validated document by its text.
      for (const q of Object.values(queries)) await graphql(admin, `${q} # ${round}`);
    }
    const blockMs = loop.stop();
    stop.done = true;
    const done = await calls;
    const slowest = Math.max(...done.map((c) => c.ms));
    console.info(`worst accepted GraphQL documents: longest event-loop block ${blockMs.toFixed(0)} ms; ${done.length} gateway calls meanwhile, slowest ${slowest.toFixed(0)} ms`);
    expect(done.length).toBeGreaterThan(0);
    expect(done.every((c) => c.status === 200)).toBe(true);
    expect(blockMs).toBeLessThan(MAX_LOOP_BLOCK_MS);
    expect(slowest).toBeLessThan(MAX_GATEWAY_CALL_MS);
  });
});
