import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { writeBatch } from '../../src/db/ledger.js';
import { LIMITS } from '../../src/graphql/limits.js';
import type { TierRecord } from '../../src/metering/types.js';
import { usageEvent } from './fixtures/events.js';
import { startAnalytics, type AnalyticsHarness } from './fixtures/analytics.js';

/** A graphql-transport-ws client: just enough to connect, subscribe and collect what arrives. */
type Message = { type: string; id?: string; payload?: unknown };
type Client = { messages: Message[]; closed: Promise<number>; next(type: string, timeoutMs?: number): Promise<Message>; subscribe(query: string, id?: string): void; close(): void };

async function connect(url: string, token: string | null): Promise<Client> {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const messages: Message[] = [];
  const waiters: { type: string; resolve: (m: Message) => void }[] = [];
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw)) as Message;
    messages.push(m);
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
  return {
    messages,
    closed,
    next(type, timeoutMs = 5000) {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
        waiters.push({ type, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    subscribe(query, id = '1') {
      ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    },
    close: () => ws.close(),
  };
}

const SUBSCRIPTION = 'subscription { budgetTierEvents { id budgetId tier ratio spent limit unit periodStart requestId crossedAt deliveries { recipient status } } }';
const NOV = '2026-11-01T00:00:00.000Z';

let h: AnalyticsHarness;
let url: string;
const clients: Client[] = [];

beforeAll(async () => {
  h = await startAnalytics();
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
  url = `${address.replace('http', 'ws')}/graphql`;
});
afterAll(async () => {
  for (const c of clients) c.close();
  await h?.close();
});

async function subscribed(token: string | null, query = SUBSCRIPTION): Promise<Client> {
  const c = await connect(url, token);
  clients.push(c);
  await c.next('connection_ack');
  c.subscribe(query);
  // mercurius subscribes asynchronously; give it a moment to be listening.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return c;
}

async function budgetId(useCase: string): Promise<number> {
  return Number(((await h.db('budgets').where({ scope: 'use_case', scope_id: useCase }).first('id')) as { id: number }).id);
}

/** Usage that takes the use case's budget past 80%, and the crossings the gateway would journal with it. */
async function crossWarning(useCase: string, bu: string, agent: string, limit: number, prefix: string): Promise<void> {
  const id = await budgetId(useCase);
  const ts = '2026-11-12T09:00:00.000Z';
  const tier = (t: TierRecord['tier'], ratio: number): TierRecord => ({
    kind: 'tier', budget_id: id, period_start: NOV, key: '', tier: t, ratio, spent: limit * 0.85, limit, unit: 'usd', request_id: `${prefix}-0`, ts,
  });
  await writeBatch(h.db, [usageEvent(0, { ts, bu_id: bu, use_case_id: useCase, agent_id: agent, cost: (limit * 0.85).toFixed(12) }, prefix), tier('notice', 0.85), tier('warning', 0.85)]);
}

describe('budgetTierEvents', () => {
  it('refuses a connection without a valid token', async () => {
    const c = await connect(url, null);
    clients.push(c);
    const refused = await Promise.race([c.next('connection_error', 3000).then(() => 'error'), c.closed.then(() => 'closed')]);
    expect(['error', 'closed']).toContain(refused);
    expect(c.messages.some((m) => m.type === 'connection_ack')).toBe(false);
  });

  it('delivers tier events as the metering writer records them, to whoever may see them', async () => {
    const finance = await subscribed(await h.token('finance'));
    const insurance = await subscribed(await h.token('bu-owner', 'insurance'));
    const marketing = await subscribed(await h.token('bu-owner', 'marketing'));
    const council = await subscribed(await h.token('council'));
    const filtered = await subscribed(await h.token('admin'), SUBSCRIPTION.replace('budgetTierEvents', 'budgetTierEvents(filter: { useCase: "demand-forecasting" })'));

    await crossWarning('underwriting-assist', 'insurance', 'quote-assistant', 1200, 'sub');

    for (const c of [finance, insurance]) {
      await waitFor(() => events(c).length === 2);
      const got = events(c);
      expect(got.map((e) => e.tier)).toEqual(['NOTICE', 'WARNING']);
      expect(got[0]).toMatchObject({ budgetId: String(await budgetId('underwriting-assist')), unit: 'USD', periodStart: NOV, requestId: 'sub-0', crossedAt: '2026-11-12T09:00:00.000Z' });
      expect(Number(got[1]!.ratio)).toBeCloseTo(0.85, 9);
    }
    // Finance sees delivery state (no webhook targets in the demo catalog); the council does not.
    expect(events(finance)[1]!.deliveries).toEqual([{ recipient: 'finance', status: 'no_target' }, { recipient: 'owner', status: 'no_target' }]);
    await waitFor(() => events(council).length === 2);
    expect(events(council).every((e) => e.deliveries === null)).toBe(true);

    // The same crossings again (a replay): recorded once, so announced once.
    await crossWarning('underwriting-assist', 'insurance', 'quote-assistant', 1200, 'sub');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(events(finance)).toHaveLength(2);
    expect(events(marketing)).toEqual([]);
    expect(events(filtered)).toEqual([]);

    await crossWarning('digital-marketing', 'marketing', 'campaign-writer', 1500, 'mkt');
    await waitFor(() => events(marketing).length === 2);
    expect(events(insurance)).toHaveLength(2);
  });

  it('closes a connection whose message passes the GraphQL body limit (1009, message too big)', async () => {
    const c = await subscribed(await h.token('bu-owner', 'marketing'), `subscription { budgetTierEvents { ${'a: id '.repeat(300_000)} } }`);
    expect(await c.closed).toBe(1009);
  });

  it('refuses a BU owner naming another BU', async () => {
    const c = await subscribed(await h.token('bu-owner', 'marketing'), SUBSCRIPTION.replace('budgetTierEvents', 'budgetTierEvents(filter: { bu: "insurance" })'));
    const err = await c.next('error');
    expect(JSON.stringify(err.payload)).toContain('FORBIDDEN');
  });
  it('checks a subscription as the HTTP endpoint checks a query: schema, depth and document limits, each with its code', async () => {
    const admin = await h.token('admin');
    const errorCode = async (query: string) => {
      const c = await subscribed(admin, query);
      const err = await c.next('error');
      return (err.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code;
    };
    // Without the check, mercurius would drop the unknown field and subscribe anyway.
    expect(await errorCode('subscription { budgetTierEvents { id nope } }')).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await errorCode('subscription { budgetTierEvents(filter: { team: "x" }) { id } }')).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await errorCode('subscription { budgetTierEvents { deliveries { a { b { c { d { e { f { g } } } } } } } } }')).toBe('QUERY_TOO_DEEP');
    const aliases = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: id`).join(' ');
    expect(await errorCode(`subscription { budgetTierEvents { ${aliases(5001)} } }`)).toBe('QUERY_TOO_MANY_TOKENS');
    expect(await errorCode(`subscription { budgetTierEvents { ${aliases(LIMITS.maxAliases + 1)} } }`)).toBe('QUERY_TOO_MANY_ALIASES');
    expect(await errorCode(`subscription { budgetTierEvents { ${'id @include(if: true) '.repeat(LIMITS.maxDirectives + 1)} } }`)).toBe('QUERY_TOO_MANY_DIRECTIVES');
    const defs = ['fragment F0 on BudgetTierEvent { __typename }', ...Array.from({ length: 9 }, (_, k) => `fragment F${k + 1} on BudgetTierEvent { ...F${k} ...F${k} }`)];
    expect(await errorCode(`subscription { budgetTierEvents { ...F9 } } ${defs.join(' ')}`)).toBe('QUERY_TOO_MANY_FIELDS');
    // A valid one on a refused one's heels is served.
    const ok = await subscribed(admin, 'subscription { budgetTierEvents { id tier } }');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ok.messages.filter((m) => m.type === 'error')).toEqual([]);
  });
});

type Event = { tier: string; ratio: string; deliveries: unknown };
function events(c: Client): Event[] {
  return c.messages.filter((m) => m.type === 'next').map((m) => (m.payload as { data: { budgetTierEvents: Event } }).data.budgetTierEvents);
}

async function waitFor(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
