import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { FaultScript } from '../../src/demo/fake-upstream.js';
import { PROMO, WRITER, type Tags } from '../helpers/gateway.js';
import { documentedCodes, refusalProblem, type CallerFormat } from '../helpers/refusals.js';
import { socketRequest, type SocketResponse } from '../helpers/raw-socket.js';
import { startServedProcess, type ServedProcess } from '../helpers/served-process.js';

/**
 * Issue 16, "Done when": a fuzz suite in CI. fast-check generates calls (tags and baggage, bodies, transports,
 * credentials) and what the fake upstream answers them (usage that is no token count, absurd or huge, streams
 * cut or ended by an error event, provider errors, a provider that never answers), one at a time against
 * `tollgate serve` as a process of its own, loopback only, with a fixed seed (TOLLGATE_FUZZ_SEED to try
 * another, TOLLGATE_FUZZ_RUNS for more runs), bounded in count (RUNS) and time (TIME_LIMIT_MS). Each generated
 * call is good but for at most one hostile thing (its focus), so that what it must be refused with is known.
 * Invariants: the process stays up; nothing hostile is forwarded; every answer is the provider's (passed
 * through) or a refusal with a code of README's error table in the caller's shape, never internal_error;
 * every forwarded call has exactly one ledger row and no call that was not has one; no row exceeds what was
 * possible (src/metering/bound.ts); afterwards the journal has no segment, nothing is set aside
 * (metering_dead_letters, rejected.jsonl), /metrics shows no pending event and /readyz is 200.
 *
 * The issue's items and their regression tests (all files run on PGlite and on Postgres; none skips either):
 *
 * | item | what | test file › test |
 * | --- | --- | --- |
 * | 1 | fractional / huge / negative counts in JSON and in the final SSE event, OpenAI and Anthropic | e2e/upstream-bad-usage › "an upstream reply kills the process: …" (5 kinds) and "keeps serving and metering the calls in flight meanwhile"; unit/providers/openai/usage and unit/providers/anthropic/usage › "… usage reports whose counts are not token counts" |
 * | 1 | the process itself stays up (outside the test runner) | e2e/upstream-bad-usage › "a tollgate process facing faulty usage reports" › "… it stays up, finishes the stream in flight and meters every call, flagged"; e2e/fuzz (this file) |
 * | 2 | 8 KB random x-tollgate-bu without a credential: a clear 400 | e2e/edge-tags › "refuses an 8 KB random x-tollgate-bu without a credential with 400 invalid_tag, and metering keeps flowing" |
 * | 2 | 8 KB session id with a valid key; tags bounded | e2e/edge-tags › "answers a 129-character session id through the Anthropic SDK in Anthropic's shape", "accepts a 128-character tag of the whole alphabet …" |
 * | 2 | a record Postgres refuses is set aside (dead letters), the rest flows, across restarts | integration/metering-dead-letters › "one unauthenticated request stops all metering: an 8 KB session id (54000) is set aside …", "sets a record aside once however often its segment is replayed", "finds a refused record by halving its batch …", "keeps retrying what is not the data's fault …" |
 * | 2 | a metric (and so an alert) for dead letters | integration/metering-dead-letters › "one unauthenticated request stops all metering …" (tollgate_meter_rejected_events 1) |
 * | 2 | readiness reports a meter that cannot flush | e2e/meter-readiness › "/readyz stays 200 while the meter cannot flush: …" |
 * | 3 | NUL in baggage parent_id with a valid key | e2e/edge-tags › "refuses NUL in baggage parent_id with a valid key: never served, never a refused usage row" |
 * | 3 | NUL in a session id: not a misleading 503 | e2e/edge-tags › "refuses NUL in a session id with invalid_tag, not a misleading 503 budget_unavailable" |
 * | 3 | NUL in an anonymous tag: the decision record is kept | e2e/edge-tags › "a NUL byte in an anonymous tag silently dropped the decision record: …" |
 * | 3 | a served call always ends in the ledger (records refused for NUL written sanitized) | integration/metering-dead-letters › "a NUL byte makes a served call invisible: …" |
 * | 4 | absurd usage bounded by what was possible, outliers to the review queue | e2e/usage-bound › "absurd usage is billed as reported: 1e11/1e11 …", "… the issue's 1e15/1e15 …", "bounds output by the forwarded limit × n …", "scales input kinds down together …", "bounds a chunked body …", "lets a body that references server-side state …", "bounds an Anthropic stream's output …", "lists the review queue for finance and admin (GraphQL), not for a BU owner" |
 * | 5 | n multiplies the worst case and the clamp | e2e/choices › "clamps n: 128, max_tokens: 2000 under a $0.05 budget …", "keeps real spend under a token cap …", "refuses n = … with 400 invalid_request naming n …"; unit/providers/openai/body › "refuses %s = %j, naming the field", "responses: max_output_tokens, and no n …" |
 * | 6 | chunked bodies: the estimate counts the bytes received | e2e/request-body › "chunked bodies" › "estimate the prompt from the bytes received …", "meter a chunked call cut before its usage at the bytes received, not 0 input tokens" |
 * | 7 | long streams renew their lease; a real event replaces a fallback | e2e/long-streams › "long streams are metered by the dead-gateway fallback: …", "a fallback written anyway … is replaced by the real usage …"; integration/inflight › "a fallback written while its call was still live …" (3 tests) |
 * | 8 | nested JSON: 400 at parse, nothing metered | e2e/request-body › "nesting" › "refuses [ x 10,000 with 400 invalid_request …: nothing forwarded, in flight or charged", "… in Anthropic's shape", "forwards a body nested 120 levels deep, as sent" |
 * | 8 | output limits ≥ 2^53: 400, not 500 | e2e/request-body › "output limits" › "%s refuses %s: %s with 400 invalid_request naming it …", "accepts the largest limit, 1,000,000"; unit/providers/openai/body › "refuses %s = %j, naming the field" |
 * | 9 | GraphQL alias bomb; limits on body, tokens, aliases, directives, fields (__typename counted); the gateway not starved | e2e/graphql-alias-bomb › "is refused unread (413 QUERY_TOO_LARGE) from a BU owner, while gateway calls on the same process go on", "accepts the worst documents within the limits, and they hold the event loop briefly"; integration/graphql-limits (5 tests) |
 * | 10 | one access rule for every surface (FOCUS export) | integration/access-surfaces › "lets nothing out that the %s role may not see", "refuses the council the FOCUS file …", "is a test that can fail …" |
 * | 11 | headers allowlisted both ways (organization, project, betas; Set-Cookie) | e2e/header-allowlist › "OpenAI: tollgate's key, organization and project …", "Anthropic: only the betas the operator allows …", "OpenAI JSON and SSE answers: … never cookies or the account", "Anthropic answers: … never cookies or the organization", "passes a provider error's retry hints back" |
 * | 12 | nothing attributed to a BU before authentication | e2e/attribution (4 tests); integration/decision-claims-migration › "moves them to claimed …" |
 * | 12 | what is stored is truncated | e2e/attribution › "truncates what it stores of an anonymous request: …"; e2e/edge-tags › "refuses an 8 KB random x-tollgate-bu …" (the value is not stored) |
 * | 12 | failed authentication rate-limited per source | e2e/auth-failure-limit › "refuses an address after ${LIMIT} failures (5 here), cheaply, …", "answers in Anthropic's shape …", "counts failures per address the proxy forwards …" |
 * | 13 | request-body timeout | e2e/request-timeout › "answers a body still arriving after the timeout with 408 request_timeout …", "does not bound the answer …", "answers headers past Node's 16 KB limit with 431 …" |
 * | 13 | duplicate tag headers, duplicate baggage keys | e2e/edge-tags › "refuses a tag header sent twice with different values …", "accepts a tag header repeated with the same value …", "refuses a baggage key given twice with different values …" |
 * | 13 | raw UTF-8 tag headers | e2e/edge-tags › "refuses raw UTF-8 in a tag header exactly as the same value in baggage (no mojibake stored)" |
 * | 13 | JWT lifetime | e2e/identity › "rejects a JWT issued for ten years …", "… without iat …", "… issued more than a day ago …", "says why a JWT issued for too long is refused" |
 * | 13 | /metrics credentials | e2e/ops › "/metrics open without credentials: refuses no token and unknown tokens (401), and roles that may not scrape (403)" |
 * | 13 | URL tokens in logs | e2e/ops › "full URLs logged with a token a caller put in the query: …", "logs requests without credentials or prompt text" |
 * | 13 | 16 MB+ JSON answers | e2e/large-answers › "a 16 MB+ JSON answer is not parsed for usage (metered 0): …", "meters one whose usage cannot be read from the estimate, flagged usage_unread, never 0" |
 * | all | the invariants under fuzzing; 300 good calls with hostile and faulty ones at once | e2e/fuzz (this file); e2e/mixed-load |
 */

const SEED = Number(process.env.TOLLGATE_FUZZ_SEED ?? 160_016);
const RUNS = Number(process.env.TOLLGATE_FUZZ_RUNS ?? 200);
/** fast-check stops starting runs past this (the runs done so far are still checked). */
const TIME_LIMIT_MS = 25_000;
const UPSTREAM_TIMEOUT_MS = 1000;
// What src/metering/bound.ts allows, with the defaults the process runs with.
const { inputAllowance: INPUT_ALLOWANCE, outputUnset: OUTPUT_UNSET } = loadConfig({}, {}).bound;

type Route = 'chat' | 'responses' | 'messages' | 'bogus';
type TagName = keyof Tags;
const TAG_HEADERS: Record<TagName, string> = { bu: 'x-tollgate-bu', use_case: 'x-tollgate-use-case', agent_id: 'x-tollgate-agent-id', session_id: 'x-tollgate-session-id' };

type TagAttack =
  | { kind: 'none' }
  | { kind: 'bad-value'; tag: TagName; where: 'header' | 'baggage'; value: string }
  | { kind: 'control-char'; tag: TagName; char: string }
  | { kind: 'twice'; tag: TagName; other: string }
  | { kind: 'baggage-twice'; tag: TagName; other: string }
  | { kind: 'conflict'; tag: TagName; other: string }
  | { kind: 'baggage-huge'; size: number }
  | { kind: 'parent'; value: string }
  | { kind: 'missing'; tag: TagName }
  | { kind: 'unknown-bu'; value: string };

type Body =
  | { kind: 'ok'; text: string; limit: number | null; n: number | null; stream: boolean; extra: Record<string, unknown> }
  | { kind: 'nested'; depth: number }
  | { kind: 'not-json'; text: string }
  | { kind: 'not-object'; json: unknown }
  | { kind: 'bad-limit'; value: unknown }
  | { kind: 'bad-n'; value: unknown }
  | { kind: 'unknown-model'; model: string }
  | { kind: 'proto'; key: '__proto__' | 'constructor' };

type Reply =
  | { kind: 'ok' }
  | { kind: 'usage'; usage: Record<string, unknown> | null }
  | { kind: 'cut'; afterEvents: number }
  | { kind: 'stream-error'; afterEvents: number }
  | { kind: 'error'; status: number }
  | { kind: 'hang' };

/** The one thing hostile about a call (the rest of it is good), or none. */
type Focus = 'none' | 'auth' | 'tags' | 'body' | 'route' | 'transport';

type Spec = { focus: Focus; route: Route; auth: 'key' | 'none' | 'garbage'; garbage: string; carry: 'headers' | 'baggage' | 'both'; session: string; attack: TagAttack; body: Body; transport: 'length' | { chunks: number[] } | { cutAfter: number }; reply: Reply };

const TAG_NAMES: TagName[] = ['bu', 'use_case', 'agent_id', 'session_id'];
const validTag = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9_.:-]{1,${max}}$`));
/** Values a tag may not take: too long, or a character outside A-Z a-z 0-9 _ . : - (as a header carries it, percent-encoded in baggage). */
const invalidTag = fc.oneof(
  fc.integer({ min: 129, max: 9000 }).map((n) => 'a'.repeat(n)),
  fc.tuple(validTag(20), fc.constantFrom(' ', ',', '"', ';', '=', '%', '/', '\\', '\t', 'é', '€', '😀', '\u00a0'), validTag(20)).map(([a, c, b]) => `${a}${c}${b}`),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !/^[A-Za-z0-9_.:-]{1,128}$/.test(s)),
);

const usageValue = fc.oneof(
  fc.constantFrom(10.5, 3.7, 1e17, 1e15, 1e11, -5, 2 ** 53, 1e308, '12', 'many', true, null, [], {}),
  fc.integer({ min: 0, max: 2 ** 40 }),
  fc.double({ noNaN: false }),
  fc.constant({ deep: JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`) as unknown }),
  fc.constant('9'.repeat(1 << 20)),
);
const USAGE_KEYS = ['prompt_tokens', 'completion_tokens', 'total_tokens', 'input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens', 'prompt_tokens_details', 'input_tokens_details'];

const specArb: fc.Arbitrary<Spec> = fc.record({
  focus: fc.constantFrom<Focus>('none', 'none', 'none', 'none', 'none', 'auth', 'tags', 'tags', 'tags', 'body', 'body', 'route', 'transport'),
  route: fc.constantFrom<Route>('chat', 'chat', 'responses', 'messages', 'messages', 'bogus'),
  auth: fc.constantFrom<Spec['auth']>('key', 'key', 'key', 'key', 'none', 'garbage'),
  garbage: fc.oneof(validTag(60), fc.stringMatching(/^tg_[A-Za-z0-9_-]{0,60}$/), fc.string({ maxLength: 80 })).map((s) => s.replace(/[^\x20-\x7e]/g, 'x')),
  carry: fc.constantFrom<Spec['carry']>('headers', 'baggage', 'both'),
  session: validTag(100),
  attack: fc.oneof(
    { weight: 6, arbitrary: fc.constant<TagAttack>({ kind: 'none' }) },
    fc.record({ kind: fc.constant('bad-value' as const), tag: fc.constantFrom(...TAG_NAMES), where: fc.constantFrom('header' as const, 'baggage' as const), value: invalidTag }),
    fc.record({ kind: fc.constant('control-char' as const), tag: fc.constantFrom(...TAG_NAMES), char: fc.constantFrom('\0', '\x01', '\x1b', '\x7f') }),
    fc.record({ kind: fc.constant('twice' as const), tag: fc.constantFrom(...TAG_NAMES), other: validTag(30) }),
    fc.record({ kind: fc.constant('baggage-twice' as const), tag: fc.constantFrom(...TAG_NAMES), other: validTag(30) }),
    fc.record({ kind: fc.constant('conflict' as const), tag: fc.constantFrom(...TAG_NAMES), other: validTag(30) }),
    fc.record({ kind: fc.constant('baggage-huge' as const), size: fc.integer({ min: 8193, max: 20_000 }) }),
    fc.record({ kind: fc.constant('parent' as const), value: invalidTag }),
    fc.record({ kind: fc.constant('missing' as const), tag: fc.constantFrom(...TAG_NAMES) }),
    fc.record({ kind: fc.constant('unknown-bu' as const), value: validTag(40) }),
  ),
  body: fc.oneof(
    { weight: 8, arbitrary: fc.record({
      kind: fc.constant('ok' as const),
      text: fc.string({ unit: 'binary', maxLength: 300 }),
      limit: fc.option(fc.integer({ min: 1, max: 4096 })),
      n: fc.option(fc.integer({ min: 1, max: 4 })),
      stream: fc.boolean(),
      extra: fc.dictionary(fc.stringMatching(/^x_[a-z]{1,8}$/), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }),
    }) },
    fc.record({ kind: fc.constant('nested' as const), depth: fc.integer({ min: 129, max: 20_000 }) }),
    fc.record({ kind: fc.constant('not-json' as const), text: fc.string({ maxLength: 200 }) }),
    fc.record({ kind: fc.constant('not-object' as const), json: fc.oneof(fc.array(fc.jsonValue({ maxDepth: 2 })), fc.double({ noNaN: true }), fc.string(), fc.constant(null)) }),
    fc.record({ kind: fc.constant('bad-limit' as const), value: fc.constantFrom(0, -1, 1.5, 1e16, 2 ** 53, 1_000_001, '20', [20], true) }),
    fc.record({ kind: fc.constant('bad-n' as const), value: fc.constantFrom(0, 129, 1.5, '2', -1, 1e9) }),
    fc.record({ kind: fc.constant('proto' as const), key: fc.constantFrom('__proto__' as const, 'constructor' as const) }),
    fc.record({ kind: fc.constant('unknown-model' as const), model: fc.oneof(validTag(60), fc.constant('x'.repeat(300)), fc.constant('gpt\u0000mini')) }),
  ),
  transport: fc.oneof(
    { weight: 6, arbitrary: fc.constant('length' as const) },
    fc.record({ chunks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }) }),
    fc.record({ cutAfter: fc.integer({ min: 0, max: 40 }) }),
  ),
  reply: fc.oneof(
    { weight: 5, arbitrary: fc.constant<Reply>({ kind: 'ok' }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('usage' as const), usage: fc.option(fc.dictionary(fc.constantFrom(...USAGE_KEYS), usageValue, { minKeys: 1, maxKeys: 3 }), { freq: 6 }) }) },
    fc.record({ kind: fc.constant('cut' as const), afterEvents: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('stream-error' as const), afterEvents: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('error' as const), status: fc.constantFrom(400, 429, 500, 503, 529) }),
    { weight: 1, arbitrary: fc.constant<Reply>({ kind: 'hang' }) },
  ),
}).map((s) => ({
  ...s,
  route: s.focus === 'route' ? 'bogus' : s.route === 'bogus' ? 'chat' : s.route,
  auth: s.focus === 'auth' ? (s.auth === 'key' ? 'none' : s.auth) : 'key',
  attack: s.focus === 'tags' ? (s.attack.kind === 'none' ? { kind: 'missing', tag: 'session_id' } : s.attack) : { kind: 'none' },
  body: s.focus === 'body' ? (s.body.kind === 'ok' ? { kind: 'nested', depth: 10_000 } : s.body) : s.body.kind === 'ok' ? withoutProto(s.body) : { kind: 'ok', text: '', limit: 16, n: null, stream: false, extra: {} },
  transport: s.focus === 'transport' ? (typeof s.transport === 'object' && 'cutAfter' in s.transport ? s.transport : { cutAfter: 10 }) : typeof s.transport === 'object' && 'cutAfter' in s.transport ? 'length' : s.transport,
}) satisfies Spec);

/** Keys JSON.parse would make a prototype of are refused by the body parser (400 invalid_request): a hostile body. */
function withoutProto(body: Extract<Body, { kind: 'ok' }>): Body {
  return /"(__proto__|constructor)"/.test(JSON.stringify(body.extra)) ? { ...body, extra: {} } : body;
}

/** A character Node's HTTP parser refuses in a header value (tab is allowed; CR and LF are sent as '_'). */
const hasControl = (v: string) => [...v].some((ch) => {
  const c = ch.charCodeAt(0);
  return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f;
});

/** The codes a call with this one hostile thing may be refused with (the auth failure limit may come first). */
function expectedCodes(spec: Spec): string[] | null {
  const a = spec.attack;
  const b = spec.body;
  switch (spec.focus) {
    case 'none': case 'transport': return null;
    case 'auth': return ['missing_credential', 'invalid_credential', 'auth_rate_limited'];
    case 'route': return ['unsupported_endpoint'];
    case 'body': return b.kind === 'unknown-model' ? ['unknown_model', 'invalid_request'] : ['invalid_request'];
    case 'tags':
      if (a.kind === 'twice' || a.kind === 'baggage-twice' || a.kind === 'conflict') return ['conflicting_tag'];
      if (a.kind === 'missing') return ['missing_tag'];
      if (a.kind === 'unknown-bu') return ['unknown_bu'];
      // Node's parser refuses a control character in a header line before any route (400 invalid_request).
      if (a.kind === 'control-char' || (a.kind === 'bad-value' && a.where === 'header' && hasControl(a.value))) return ['invalid_tag', 'invalid_request'];
      if (a.kind === 'baggage-huge' || (a.kind === 'bad-value' && a.value.length > 8000)) return ['invalid_tag', 'headers_too_large'];
      return ['invalid_tag'];
  }
}

/** One fuzzed call as sent, and what came back. */
type Sent = { i: number; spec: Spec; marker: string; session: string; bodyBytes: number; outputLimit: number | null; choices: number; res: SocketResponse };

const formatOf = (route: Route): CallerFormat => (route === 'messages' ? 'anthropic' : 'openai');
const pathOf = (route: Route): string => ({ chat: '/openai/v1/chat/completions', responses: '/openai/v1/responses', messages: '/anthropic/v1/messages', bogus: '/openai/v1/fine_tuning/jobs' })[route];
const fakePathOf = (route: Route): string => pathOf(route).replace(/^\/(openai|anthropic)/, '');

function bodyOf(spec: Spec, marker: string): { bytes: Buffer; outputLimit: number | null; choices: number } {
  const model = spec.route === 'messages' ? 'claude-haiku-4-5' : 'gpt-4.1-mini';
  const limitField = spec.route === 'responses' ? 'max_output_tokens' : 'max_tokens';
  const prompt = `${marker} plan the spring promotion`;
  const base = (): Record<string, unknown> => spec.route === 'responses'
    ? { model, input: prompt, [limitField]: 16 }
    : { model, [limitField]: 16, messages: [{ role: 'user', content: prompt }] };
  const json = (v: unknown) => ({ bytes: Buffer.from(JSON.stringify(v)), outputLimit: null, choices: 1 });
  const b = spec.body;
  switch (b.kind) {
    case 'ok': {
      const body: Record<string, unknown> = { ...b.extra, ...base(), stream: b.stream };
      if (b.limit === null && spec.route !== 'messages') delete body[limitField];
      else body[limitField] = b.limit ?? 16;
      const choices = spec.route === 'chat' && b.n !== null ? b.n : 1;
      if (choices !== 1) body.n = choices;
      if (spec.route === 'responses') body.input = `${prompt} ${b.text}`;
      else body.messages = [{ role: 'user', content: `${prompt} ${b.text}` }];
      return { bytes: Buffer.from(JSON.stringify(body)), outputLimit: (body[limitField] as number | undefined) ?? null, choices };
    }
    case 'nested': return { bytes: Buffer.from(JSON.stringify({ ...base(), metadata: 0 }).replace('"metadata":0', `"metadata":${'['.repeat(b.depth)}${']'.repeat(b.depth)}`)), outputLimit: null, choices: 1 };
    case 'not-json': return { bytes: Buffer.from(`${marker}{${b.text}`), outputLimit: null, choices: 1 };
    case 'not-object': return json(b.json);
    case 'bad-limit': return json({ ...base(), [limitField]: b.value });
    case 'bad-n': return json({ ...base(), n: b.value, ...(spec.route === 'chat' ? {} : { [limitField]: 0 }) });
    case 'unknown-model': return json({ ...base(), model: b.model });
    case 'proto': return { bytes: Buffer.from(JSON.stringify(base()).replace('{', `{"${b.key}":{"prototype":{"polluted":1},"polluted":1},`)), outputLimit: null, choices: 1 };
  }
}

function tagsOf(spec: Spec): Tags {
  return { ...(spec.route === 'messages' ? PROMO : WRITER), session_id: spec.session };
}

const encodeBaggage = (v: string) => encodeURIComponent(v);

function headersOf(spec: Spec, key: string): [string, string][] {
  const tags = tagsOf(spec);
  const h: [string, string][] = [['content-type', 'application/json']];
  if (spec.auth !== 'none') {
    const credential = spec.auth === 'key' ? key : spec.garbage;
    h.push(spec.route === 'messages' ? ['x-api-key', credential] : ['authorization', `Bearer ${credential}`]);
  }
  if (spec.route === 'messages') h.push(['anthropic-version', '2023-06-01']);
  const a = spec.attack;
  const inHeaders = (t: TagName) => spec.carry !== 'baggage' || (a.kind === 'twice' && a.tag === t) || (a.kind === 'conflict' && a.tag === t) || (a.kind === 'control-char' && a.tag === t) || (a.kind === 'bad-value' && a.where === 'header' && a.tag === t);
  const inBaggage = (t: TagName) => spec.carry !== 'headers' || (a.kind === 'baggage-twice' && a.tag === t) || (a.kind === 'conflict' && a.tag === t) || (a.kind === 'bad-value' && a.where === 'baggage' && a.tag === t);
  const value = (t: TagName, where: 'header' | 'baggage'): string | undefined => {
    if (a.kind === 'missing' && a.tag === t) return undefined;
    if (a.kind === 'bad-value' && a.tag === t && a.where === where) return a.value;
    if (a.kind === 'control-char' && a.tag === t && where === 'header') return `${tags[t].slice(0, 3)}${a.char}x`;
    if (a.kind === 'unknown-bu' && t === 'bu') return a.value === tags.bu ? `${a.value}-x` : a.value;
    return tags[t];
  };
  const members: string[] = [];
  for (const t of TAG_NAMES) {
    const v = value(t, 'header');
    if (inHeaders(t) && v !== undefined) {
      // A header value as bytes: raw UTF-8 read by tollgate as latin1, as an SDK would never send it.
      h.push([TAG_HEADERS[t], Buffer.from(v, 'utf8').toString('latin1').replace(/[\r\n]/g, '_')]);
      if (a.kind === 'twice' && a.tag === t) h.push([TAG_HEADERS[t], a.other === v ? `${v}2` : a.other]);
    }
    const b = value(t, 'baggage');
    if (inBaggage(t) && b !== undefined) {
      const other = a.kind === 'conflict' && a.tag === t ? (a.other === b ? `${b}2` : a.other) : b;
      members.push(`${t}=${encodeBaggage(inHeaders(t) ? other : b)}`);
      if (a.kind === 'baggage-twice' && a.tag === t) members.push(`${t}=${encodeBaggage(a.other === b ? `${b}2` : a.other)}`);
    }
  }
  if (a.kind === 'parent') members.push(`parent_id=${encodeBaggage(a.value)}`);
  if (a.kind === 'baggage-huge') members.push(`vendor=${'v'.repeat(a.size)}`);
  if (members.length > 0) h.push(['baggage', members.join(',')]);
  return h;
}

/** Whether tollgate may forward the call at all: anything hostile must be refused before the provider. */
function mayForward(spec: Spec): boolean {
  return spec.focus === 'none';
}

function faultOf(spec: Spec, marker: string): FaultScript | null {
  const r = spec.reply;
  const at = { path: fakePathOf(spec.route), match: marker };
  switch (r.kind) {
    case 'ok': return null;
    case 'usage': return { ...at, fault: 'usage', usage: r.usage };
    case 'cut': return { ...at, fault: 'cut', afterEvents: r.afterEvents };
    case 'stream-error': return { ...at, fault: 'stream-error', afterEvents: r.afterEvents };
    case 'error': return { ...at, fault: 'error', status: r.status };
    case 'hang': return { ...at, fault: 'hang' };
  }
}

describe('fuzzed tags, baggage, bodies and upstream replies against a tollgate process', () => {
  let sp: ServedProcess;
  let keys: { writer: string; promo: string };
  const codes = documentedCodes();
  const sent: Sent[] = [];

  beforeAll(async () => {
    sp = await startServedProcess('fuzz', { TOLLGATE_UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS), TOLLGATE_FLUSH_INTERVAL_MS: '25' });
    keys = { writer: await sp.key(WRITER.agent_id), promo: await sp.key(PROMO.agent_id) };
  }, 120_000);
  afterAll(async () => sp?.close());

  const served = (marker: string) => sp.upstream.requests.filter((r) => JSON.stringify(r.body ?? null).includes(marker));

  async function send(i: number, spec: Spec): Promise<Sent> {
    const marker = `#fz-${i}#`;
    const session = `fz-${i}-${spec.session}`.slice(0, 128);
    const s = { ...spec, session };
    const { bytes, outputLimit, choices } = bodyOf(s, marker);
    const fault = faultOf(s, marker);
    if (fault) sp.upstream.script(fault);
    const transport = s.transport;
    const res = await socketRequest(sp.proc.url, {
      path: pathOf(s.route),
      headers: headersOf(s, s.route === 'messages' ? keys.promo : keys.writer),
      body: bytes,
      ...(typeof transport === 'object' ? transport : {}),
    });
    return { i, spec: s, marker, session, bodyBytes: bytes.length, outputLimit, choices, res };
  }

  /** What is wrong with one call's answer, or null. */
  function problemOf(call: Sent): string | null {
    const { spec, res, marker } = call;
    const forwarded = served(marker);
    if (forwarded.length > 1) return `forwarded ${forwarded.length} times`;
    if (forwarded.length === 1 && !mayForward(spec)) return `a hostile call was forwarded (answered ${res.status})`;
    if (typeof spec.transport === 'object' && 'cutAfter' in spec.transport) return null; // the client left: no answer to read
    if (res.status === 0) return ['cut', 'stream-error', 'hang'].includes(spec.reply.kind) && forwarded.length === 1 ? null : 'the connection closed without an answer';
    if (res.status < 400) return forwarded.length === 1 ? null : `${res.status} for a call never forwarded`;
    const get = (name: string) => res.headers[name];
    const record = sp.upstream.usageLog.find((u) => u.requestId === forwarded[0]?.id);
    // The provider's own error, passed through as it sent it.
    if (get('x-tollgate-error-code') === undefined && record?.status === res.status) return null;
    if (get('x-tollgate-error-code') === 'internal_error') return `500 internal_error: ${res.body.slice(0, 300)}`;
    const expected = expectedCodes(spec);
    const code = get('x-tollgate-error-code') ?? '';
    if (expected !== null && !expected.includes(code)) return `refused with ${code || res.status}, expected ${expected.join(' or ')}: ${res.body.slice(0, 200)}`;
    return refusalProblem(codes, formatOf(spec.route), res.status, { get }, res.body);
  }

  it('keeps the process up, forwards nothing hostile and refuses only with documented codes in the caller\'s format', async () => {
    let i = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(specArb, async (spec) => {
        const call = await send(++i, spec);
        sent.push(call);
        const problem = problemOf(call);
        if (problem !== null) throw new Error(`call ${call.i} (${JSON.stringify(spec).slice(0, 400)}): ${problem}`);
        if (!sp.alive()) throw new Error(`the process exited after call ${call.i}:\n${sp.proc.logs()}`);
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, endOnFailure: true },
    );
    const healthz = await fetch(`${sp.proc.url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(sent.length).toBeGreaterThanOrEqual(Math.min(RUNS, 40));
    const servedCalls = sent.filter((c) => served(c.marker).length === 1).length;
    const refused = sent.filter((c) => c.res.status >= 400).length;
    console.info(`fuzz: ${sent.length} calls in ${Date.now() - started} ms (seed ${SEED}): ${servedCalls} forwarded, ${refused} refused`);
    // A fuzz run that forwards nothing, or refuses nothing, tests half of what it says.
    expect(servedCalls).toBeGreaterThan(sent.length / 8);
    expect(refused).toBeGreaterThan(sent.length / 8);
  }, 90_000);

  it('meters every forwarded call exactly once, within what was possible, and leaves nothing in the journal', async () => {
    expect(sent.length).toBeGreaterThan(0);
    const forwarded = sent.filter((c) => served(c.marker).length === 1);
    type Row = { session_id: string; input_tokens: string; cached_input_tokens: string; cache_write_tokens: string; output_tokens: string; flags: string[] | null };
    const read = async () => (await sp.db('usage_events').whereLike('session_id', 'fz-%')
      .select('session_id', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'flags')) as Row[];
    let rows = await read();
    for (const deadline = Date.now() + 30_000; rows.length < forwarded.length && Date.now() < deadline; rows = await read()) await sleep(200);

    const bySession = new Map<string, Row[]>();
    for (const r of rows) bySession.set(r.session_id, [...(bySession.get(r.session_id) ?? []), r]);
    const problems: string[] = [];
    for (const c of sent) {
      const list = bySession.get(c.session) ?? [];
      const isForwarded = served(c.marker).length === 1;
      if (isForwarded && list.length !== 1) problems.push(`call ${c.i} was forwarded and has ${list.length} ledger rows (${c.spec.reply.kind})`);
      if (!isForwarded && list.length > 0) problems.push(`call ${c.i} was never forwarded and has ${list.length} ledger rows`);
      const row = list[0];
      if (!row) continue;
      const input = Number(row.input_tokens) + Number(row.cached_input_tokens) + Number(row.cache_write_tokens);
      const inputBound = c.bodyBytes + INPUT_ALLOWANCE;
      const outputBound = (c.outputLimit ?? OUTPUT_UNSET) * c.choices;
      if (input > inputBound) problems.push(`call ${c.i}: input ${input} past its bound ${inputBound}`);
      if (Number(row.output_tokens) > outputBound) problems.push(`call ${c.i}: output ${row.output_tokens} past its bound ${outputBound}`);
    }
    expect(problems).toEqual([]);
    expect(rows.length).toBe(forwarded.length);

    // The journal drains: no segment left, nothing set aside, readiness says the meter flushes.
    const journal = path.join(sp.proc.dataDir, 'journal');
    const left = () => fs.readdirSync(journal).filter((f) => f.endsWith('.jsonl'));
    for (const deadline = Date.now() + 10_000; left().length > 0 && Date.now() < deadline;) await sleep(100);
    expect(left()).toEqual([]);
    expect(Number((await sp.db('metering_dead_letters').count({ n: '*' }).first())?.n)).toBe(0);
    const ready = await fetch(`${sp.proc.url}/readyz`);
    expect(ready.status, await ready.text()).toBe(200);
    const metrics = await (await fetch(`${sp.proc.url}/metrics`, { headers: { authorization: `Bearer ${await sp.apiToken('metrics')}` } })).text();
    expect(metrics).toMatch(/^tollgate_meter_pending_events 0$/m);
    expect(metrics).toMatch(/^tollgate_meter_rejected_events 0$/m);
    expect(sp.alive()).toBe(true);
  }, 60_000);
});
