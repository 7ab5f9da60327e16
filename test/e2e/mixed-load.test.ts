import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PROMO, WRITER, tagHeaders, type Tags } from '../helpers/gateway.js';
import { fakeRecordsByCall, ledgerRows, reconcile, runAll, type CallSpec } from '../helpers/load.js';
import { documentedCodes, refusalProblem, type CallerFormat } from '../helpers/refusals.js';
import { socketRequest, type SocketResponse } from '../helpers/raw-socket.js';
import { startServedProcess, type ServedProcess } from '../helpers/served-process.js';

/**
 * Issue 16, "Done when": a load test mixing 300 good calls with hostile and faulty ones at once. The good calls
 * go through the official OpenAI and Anthropic SDKs (both providers, a third streaming) to a `tollgate serve`
 * process; beside them, at the same moment, callers send what the items were about (oversize and NUL
 * tags, no or a garbage credential, nested JSON, a chunked body cut mid-way, conflicting tags, absurd limits)
 * and the fake upstream misreports usage or cuts streams for some valid calls. Every good call is answered and
 * metered exactly once (ledger = the fake's tally); every hostile one is refused with a documented code in its
 * caller's format, never forwarded, and its refusal is in the decision log; the faulty ones are metered once
 * each within their bound; the journal drains and /readyz is 200 at the end.
 */

const GOOD = 300;
const EACH = 5;
const PREFIX = 'mixed';
// What src/metering/bound.ts allows for input beyond the body's bytes, by default.
const INPUT_ALLOWANCE = loadConfig({}, {}).bound.inputAllowance;

type Hostile = { name: string; expected: string[]; format: CallerFormat; send(base: string, marker: string): Promise<SocketResponse | null> };

const json = (marker: string, extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: `${marker} hello` }], ...extra }));
const anthropicJson = (marker: string) =>
  Buffer.from(JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: `${marker} hello` }] }));
const headerList = (tags: Partial<Tags>, extra: [string, string][] = []): [string, string][] =>
  [['content-type', 'application/json'], ...Object.entries(tagHeaders(tags)), ...extra];
const CHAT = '/openai/v1/chat/completions';
const MESSAGES = '/anthropic/v1/messages';
const random = (n: number) => crypto.randomBytes(n).toString('base64url').slice(0, n);

function hostileCalls(keys: { writer: string; promo: string }): Hostile[] {
  const bearer = (k: string): [string, string] => ['authorization', `Bearer ${k}`];
  const writer = (session: string) => ({ ...WRITER, session_id: session });
  return [
    { name: 'an 8 KB random x-tollgate-bu without a credential', expected: ['invalid_tag'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList({ ...WRITER, bu: random(8192), session_id: 'hostile-bu' }), body: json(m) }) },
    { name: 'NUL in baggage parent_id with a valid key', expected: ['invalid_tag'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-nul'), [bearer(keys.writer), ['baggage', 'parent_id=a%00b']]), body: json(m) }) },
    { name: 'a raw NUL byte in a session id header', expected: ['invalid_request'], format: 'anthropic',
      send: (base, m) => socketRequest(base, { path: MESSAGES, headers: headerList({ ...PROMO, session_id: 'a\0b' }, [['x-api-key', keys.promo], ['anthropic-version', '2023-06-01']]), body: anthropicJson(m) }) },
    { name: 'a use case with a space', expected: ['invalid_tag'], format: 'anthropic',
      send: (base, m) => socketRequest(base, { path: MESSAGES, headers: headerList({ ...PROMO, use_case: 'trade promo', session_id: 'hostile-space' }, [['x-api-key', keys.promo], ['anthropic-version', '2023-06-01']]), body: anthropicJson(m) }) },
    { name: 'no credential', expected: ['missing_credential'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-anon')), body: json(m) }) },
    { name: 'a garbage key', expected: ['invalid_credential'], format: 'anthropic',
      send: (base, m) => socketRequest(base, { path: MESSAGES, headers: headerList({ ...PROMO, session_id: 'hostile-garbage' }, [['x-api-key', `tg_${random(40)}`], ['anthropic-version', '2023-06-01']]), body: anthropicJson(m) }) },
    { name: 'JSON nested 10,000 deep', expected: ['invalid_request'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-nested'), [bearer(keys.writer)]), body: Buffer.concat([json(m).subarray(0, -1), Buffer.from(`,"metadata":${'['.repeat(10_000)}${']'.repeat(10_000)}}`)]) }) },
    { name: 'a tag header sent twice with different values', expected: ['conflicting_tag'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-twice-a'), [bearer(keys.writer), ['x-tollgate-session-id', 'hostile-twice-b']]), body: json(m) }) },
    { name: 'baggage past 8192 bytes', expected: ['invalid_tag'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-baggage'), [bearer(keys.writer), ['baggage', `vendor=${'v'.repeat(9000)}`]]), body: json(m) }) },
    { name: 'max_tokens 1e16', expected: ['invalid_request'], format: 'openai',
      send: (base, m) => socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-limit'), [bearer(keys.writer)]), body: json(m, { max_tokens: 1e16 }) }) },
    { name: 'a chunked body the client leaves mid-way', expected: [], format: 'openai',
      send: async (base, m) => {
        await socketRequest(base, { path: CHAT, headers: headerList(writer('hostile-cut'), [bearer(keys.writer)]), body: json(m), chunks: [20, 20], cutAfter: 30 });
        return null;
      } },
  ];
}

type Faulty = { name: string; route: 'chat' | 'messages'; stream: boolean; fault: Record<string, unknown> };
const FAULTY: Faulty[] = [
  // 1e11 is a count believed and billed at the call's bound; 1e15 is past any count believed (billed from the estimate).
  { name: 'absurd usage 1e11/1e11 (OpenAI)', route: 'chat', stream: false, fault: { fault: 'usage', usage: { prompt_tokens: 1e11, completion_tokens: 1e11 } } },
  { name: 'absurd usage 1e15/1e15 (Anthropic)', route: 'messages', stream: false, fault: { fault: 'usage', usage: { input_tokens: 1e15, output_tokens: 1e15 } } },
  { name: 'fractional prompt_tokens', route: 'chat', stream: false, fault: { fault: 'usage', usage: { prompt_tokens: 10.5 } } },
  { name: '3.7 output tokens in a stream', route: 'messages', stream: true, fault: { fault: 'usage', usage: { output_tokens: 3.7 } } },
  { name: 'a stream cut after 3 events', route: 'chat', stream: true, fault: { fault: 'cut', afterEvents: 3 } },
  { name: 'no usage report', route: 'chat', stream: false, fault: { fault: 'usage', usage: null } },
];

describe('300 good calls at once with hostile and faulty ones', () => {
  let sp: ServedProcess;
  let keys: { writer: string; promo: string };
  const codes = documentedCodes();

  beforeAll(async () => {
    sp = await startServedProcess('mixed', { TOLLGATE_UPSTREAM_TIMEOUT_MS: '30000' });
    keys = { writer: await sp.key(WRITER.agent_id), promo: await sp.key(PROMO.agent_id) };
  }, 120_000);
  afterAll(async () => sp?.close());

  it('answers and meters every good call once, refuses and logs the hostile ones, meters the faulty ones within bounds, and stays ready', async () => {
    const good: CallSpec[] = Array.from({ length: GOOD }, (_, i) => {
      const provider = i % 2 === 0 ? 'openai' : 'anthropic';
      const tags = provider === 'openai' ? WRITER : PROMO;
      return { i, gateway: sp.proc.url, key: provider === 'openai' ? keys.writer : keys.promo, tags: { bu: tags.bu, use_case: tags.use_case, agent_id: tags.agent_id }, sessionPrefix: PREFIX, provider, stream: i % 3 === 0, via: 'sdk', maxTokens: 16 };
    });
    const hostile = hostileCalls(keys).flatMap((h) => Array.from({ length: EACH }, (_, k) => ({ h, marker: `#bad-${h.name.length}-${k}-${random(6)}#` })));
    const faulty = FAULTY.flatMap((f) => Array.from({ length: EACH }, (_, k) => ({ f, marker: `#faulty-${random(8)}#`, session: `faulty-${FAULTY.indexOf(f)}-${k}` })));
    for (const { f, marker } of faulty) sp.upstream.script({ ...(f.fault as object), path: f.route === 'chat' ? '/v1/chat/completions' : '/v1/messages', match: marker } as Parameters<typeof sp.upstream.script>[0]);

    const started = Date.now();
    const [goodResults, hostileResults, faultyResults] = await Promise.all([
      runAll(good),
      Promise.all(hostile.map(async ({ h, marker }) => ({ h, marker, res: await h.send(sp.proc.url, marker) }))),
      Promise.all(faulty.map(async ({ f, marker, session }) => {
        const tags = f.route === 'chat' ? WRITER : PROMO;
        const body = f.route === 'chat' ? json(marker, { stream: f.stream }) : Buffer.from(JSON.stringify({ ...JSON.parse(anthropicJson(marker).toString()) as object, stream: f.stream }));
        const auth: [string, string][] = f.route === 'chat' ? [['authorization', `Bearer ${keys.writer}`]] : [['x-api-key', keys.promo], ['anthropic-version', '2023-06-01']];
        const res = await socketRequest(sp.proc.url, { path: f.route === 'chat' ? CHAT : MESSAGES, headers: headerList({ ...tags, session_id: session }, auth), body });
        return { f, marker, session, bodyBytes: body.length, res };
      })),
    ]);
    const elapsed = Date.now() - started;

    // Good calls: all answered whole.
    const failed = goodResults.filter((r) => r.status !== 200 || !r.complete);
    expect(failed.map((r) => `call ${r.i}: ${r.status} ${r.code ?? ''} ${r.error ?? ''}`)).toEqual([]);

    // Hostile calls: refused with their documented code in their caller's format, never forwarded.
    const forwarded = (marker: string) => sp.upstream.requests.filter((r) => JSON.stringify(r.body ?? null).includes(marker)).length;
    const problems: string[] = [];
    for (const { h, marker, res } of hostileResults) {
      if (forwarded(marker) > 0) problems.push(`${h.name}: forwarded`);
      if (res === null) continue;
      const get = (name: string) => res.headers[name];
      const code = get('x-tollgate-error-code') ?? '';
      if (!h.expected.includes(code)) problems.push(`${h.name}: ${res.status} ${code}, expected ${h.expected.join(' or ')}`);
      const problem = refusalProblem(codes, h.format, res.status, { get }, res.body);
      if (problem) problems.push(`${h.name}: ${problem}`);
    }
    expect(problems).toEqual([]);

    // Faulty upstream replies: the calls were served (some cut), each forwarded once.
    for (const { f, marker, res } of faultyResults) {
      expect(forwarded(marker), f.name).toBe(1);
      expect(res.status, `${f.name}: ${res.body.slice(0, 200)}`).toBe(200);
    }

    // The ledger equals the fake's tally for the good calls, one row each; the faulty ones have one row each, bounded.
    await waitForLedger(sp, GOOD + faulty.length);
    const rows = [...await ledgerRows(sp.db, WRITER.use_case, PREFIX), ...await ledgerRows(sp.db, PROMO.use_case, PREFIX)];
    const tally = reconcile(rows, fakeRecordsByCall(sp.upstream));
    expect(tally).toEqual({ unmatchedRows: [], duplicateCalls: [], mismatched: [], servedWithoutRow: [] });
    expect(rows.length).toBe(GOOD);
    type Row = { session_id: string; input_tokens: string; cached_input_tokens: string; cache_write_tokens: string; output_tokens: string; flags: string[] | null };
    const faultyRows = (await sp.db('usage_events').whereLike('session_id', 'faulty-%')
      .select('session_id', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'flags')) as Row[];
    for (const { f, session, bodyBytes } of faultyResults) {
      const mine = faultyRows.filter((r) => r.session_id === session);
      expect(mine.length, `${f.name}: ledger rows`).toBe(1);
      const r = mine[0]!;
      expect(Number(r.input_tokens) + Number(r.cached_input_tokens) + Number(r.cache_write_tokens), `${f.name}: input`).toBeLessThanOrEqual(bodyBytes + INPUT_ALLOWANCE);
      expect(Number(r.output_tokens), `${f.name}: output`).toBeLessThanOrEqual(16);
    }
    expect(faultyRows.filter((r) => r.session_id.startsWith('faulty-0-') || r.session_id.startsWith('faulty-1-')).every((r) => r.flags !== null && r.flags.length > 0)).toBe(true);

    // Every refusal tollgate answered with a request id is in the decision log, with its code.
    const refused = hostileResults.filter((x) => x.res?.headers['x-tollgate-request-id'] !== undefined);
    const logged = (await sp.db('decision_log').whereIn('request_id', refused.map((x) => x.res!.headers['x-tollgate-request-id']!)).select('request_id', 'code', 'allowed')) as { request_id: string; code: string; allowed: boolean }[];
    const byId = new Map(logged.map((l) => [l.request_id, l]));
    expect(refused.filter((x) => byId.get(x.res!.headers['x-tollgate-request-id']!)?.code !== x.res!.headers['x-tollgate-error-code']).map((x) => x.h.name)).toEqual([]);
    // Only what Node refuses before a route (the raw NUL header) and a client that left go unlogged.
    expect(new Set(hostileResults.filter((x) => !byId.has(x.res?.headers['x-tollgate-request-id'] ?? '')).map((x) => x.h.name)))
      .toEqual(new Set(['a raw NUL byte in a session id header', 'a chunked body the client leaves mid-way']));

    // The meter drained, nothing was set aside, and the process is up and ready.
    const journal = path.join(sp.proc.dataDir, 'journal');
    const left = () => fs.readdirSync(journal).filter((f) => f.endsWith('.jsonl'));
    for (const deadline = Date.now() + 10_000; left().length > 0 && Date.now() < deadline;) await sleep(100);
    expect(left()).toEqual([]);
    expect(Number((await sp.db('metering_dead_letters').count({ n: '*' }).first())?.n)).toBe(0);
    const ready = await fetch(`${sp.proc.url}/readyz`);
    expect(ready.status, await ready.text()).toBe(200);
    expect(sp.alive()).toBe(true);
    console.info(`mixed load: ${GOOD} good, ${hostile.length} hostile, ${faulty.length} faulty calls at once in ${elapsed} ms`);
  }, 180_000);
});

async function waitForLedger(sp: ServedProcess, want: number): Promise<void> {
  const count = async () => Number((await sp.db('usage_events').where((q) => q.whereLike('session_id', `${PREFIX}-%`).orWhereLike('session_id', 'faulty-%')).count({ n: '*' }).first())?.n);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) if (await count() >= want) return;
}
