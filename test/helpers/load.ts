import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import type { Db } from '../../src/db/knex.js';
import type { FakeUpstream } from '../../src/demo/fake-upstream.js';
import type { NormalizedUsage } from '../../src/providers/types.js';
import { tagHeaders, type Tags } from './gateway.js';
import { promptTokens } from '../../src/gateway/estimate.js';

/**
 * Load for the multi-process and fault tests. Call `i` carries `#call-i#` in its prompt and the session
 * id `<prefix>-i`, so that the fake upstream's record of it (by prompt) and its ledger row (by session)
 * can be matched one to one without trusting anything tollgate reports.
 */

export type Provider = 'openai' | 'anthropic';
export type Via = 'sdk' | 'fetch';

export type CallSpec = {
  i: number;
  gateway: string;
  key: string;
  tags: Omit<Tags, 'session_id'>;
  sessionPrefix: string;
  provider: Provider;
  stream: boolean;
  via: Via;
  maxTokens?: number;
  /** The SDK's retries (its own default is 2); 0 unless given, so that one call is one attempt. */
  maxRetries?: number;
};

export type CallResult = {
  i: number;
  gateway: string;
  /** HTTP status, or 0 when the connection failed before one arrived. */
  status: number;
  /** tollgate's error code (budget_exhausted, budget_unavailable, upstream_timeout, ...) when there is one. */
  code?: string;
  requestId?: string;
  tier?: string;
  /** The whole answer arrived (a stream to its end). */
  complete: boolean;
  /** Bytes of the request body (what a call's usage bound allows beyond), and tollgate's prompt estimate of it. */
  bodyBytes: number;
  prompt: number;
  error?: string;
};

/** claude-sonnet-4-5 (which the soft cap downgrades) by fetch; the Anthropic SDK warns on every call for it, so haiku there. */
export function modelOf(s: Pick<CallSpec, 'provider' | 'via'>): string {
  if (s.provider === 'openai') return 'gpt-4.1-mini';
  return s.via === 'sdk' ? 'claude-haiku-4-5' : 'claude-sonnet-4-5';
}

export function prompt(i: number): string {
  return `#call-${i}# plan the next trade promotion for the spring aisle`;
}

export function sessionOf(prefix: string, i: number): string {
  return `${prefix}-${i}`;
}

export function bodyOf(s: CallSpec): Record<string, unknown> {
  return { model: modelOf(s), max_tokens: s.maxTokens ?? 20, stream: s.stream, messages: [{ role: 'user', content: prompt(s.i) }] };
}

export async function callOnce(s: CallSpec): Promise<CallResult> {
  return s.via === 'sdk' ? viaSdk(s) : viaFetch(s);
}

function headersOf(s: CallSpec): Record<string, string> {
  return tagHeaders({ ...s.tags, session_id: sessionOf(s.sessionPrefix, s.i) });
}

async function viaFetch(s: CallSpec): Promise<CallResult> {
  const body = JSON.stringify(bodyOf(s));
  const url = s.provider === 'openai' ? `${s.gateway}/openai/v1/chat/completions` : `${s.gateway}/anthropic/v1/messages`;
  const auth: Record<string, string> = s.provider === 'openai' ? { authorization: `Bearer ${s.key}` } : { 'x-api-key': s.key, 'anthropic-version': '2023-06-01' };
  const base = { i: s.i, gateway: s.gateway, bodyBytes: Buffer.byteLength(body), prompt: promptTokens(JSON.parse(body) as object) };
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headersOf(s) }, body });
  } catch (err) {
    return { ...base, status: 0, complete: false, error: String(err) };
  }
  const meta = { status: res.status, requestId: res.headers.get('x-tollgate-request-id') ?? undefined, tier: res.headers.get('x-tollgate-budget-tier') ?? undefined };
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    return { ...base, ...meta, complete: false, error: String(err) };
  }
  const complete = res.status === 200 && (!s.stream || text.includes(s.provider === 'openai' ? 'data: [DONE]' : 'message_stop'));
  return { ...base, ...meta, complete, code: res.status === 200 ? undefined : errorCode(text) };
}

function errorCode(text: string): string | undefined {
  try {
    // OpenAI: { error: { code } }; Anthropic: { type: 'error', error: { type, message, code } }.
    const j = JSON.parse(text) as { error?: { code?: string | null } };
    return j.error?.code ?? undefined;
  } catch {
    return undefined;
  }
}

async function viaSdk(s: CallSpec): Promise<CallResult> {
  let bodyBytes = 0;
  let prompt = 0;
  // Captures the body the SDK actually sends, which is what tollgate estimates from.
  const counting: typeof fetch = (input, init) => {
    if (typeof init?.body === 'string') {
      bodyBytes = Buffer.byteLength(init.body);
      prompt = promptTokens(JSON.parse(init.body) as object);
    }
    return fetch(input, init);
  };
  const base = { i: s.i, gateway: s.gateway };
  try {
    if (s.provider === 'openai') {
      const client = new OpenAI({ apiKey: s.key, baseURL: `${s.gateway}/openai/v1`, maxRetries: s.maxRetries ?? 0, defaultHeaders: headersOf(s), fetch: counting });
      const params = bodyOf(s) as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
      if (!s.stream) {
        const { response } = await client.chat.completions.create({ ...params, stream: false }).withResponse();
        return { ...base, ...metaOf(response), complete: true, bodyBytes, prompt };
      }
      const { data, response } = await client.chat.completions.create({ ...params, stream: true }).withResponse();
      for await (const _chunk of data);
      return { ...base, ...metaOf(response), complete: true, bodyBytes, prompt };
    }
    const client = new Anthropic({ apiKey: s.key, baseURL: `${s.gateway}/anthropic`, maxRetries: s.maxRetries ?? 0, defaultHeaders: headersOf(s), fetch: counting });
    const params = bodyOf(s) as unknown as Anthropic.MessageCreateParamsNonStreaming;
    if (!s.stream) {
      const { response } = await client.messages.create({ ...params, stream: false }).withResponse();
      return { ...base, ...metaOf(response), complete: true, bodyBytes, prompt };
    }
    const { data, response } = await client.messages.create({ ...params, stream: true }).withResponse();
    let stopped = false;
    for await (const ev of data) if (ev.type === 'message_stop') stopped = true;
    return { ...base, ...metaOf(response), complete: stopped, bodyBytes, prompt };
  } catch (err) {
    if (err instanceof OpenAI.APIError || err instanceof Anthropic.APIError) {
      const status = typeof err.status === 'number' ? err.status : 0;
      const code = err instanceof OpenAI.APIError ? (err.code ?? undefined) : ((err.error as { error?: { code?: string } } | undefined)?.error?.code);
      const headers = err.headers as Headers | undefined;
      return { ...base, status, code, requestId: headers?.get('x-tollgate-request-id') ?? undefined, tier: headers?.get('x-tollgate-budget-tier') ?? undefined, complete: false, bodyBytes, prompt, error: err.message };
    }
    return { ...base, status: 0, complete: false, bodyBytes, prompt, error: String(err) };
  }
}

function metaOf(response: Response): Pick<CallResult, 'status' | 'requestId' | 'tier'> {
  return { status: response.status, requestId: response.headers.get('x-tollgate-request-id') ?? undefined, tier: response.headers.get('x-tollgate-budget-tier') ?? undefined };
}

/** Runs `specs` with at most `concurrency` in flight (Infinity: all at once). */
export async function runAll(specs: CallSpec[], concurrency = Infinity): Promise<CallResult[]> {
  const results: CallResult[] = new Array<CallResult>(specs.length);
  let next = 0;
  const workers = Math.min(specs.length, concurrency);
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < specs.length) {
      const k = next++;
      results[k] = await callOnce(specs[k]!);
    }
  }));
  return results;
}

export type LedgerRow = NormalizedUsage & { request_id: string; session_id: string; cost: string; status: number; partial: boolean; model_served: string };

/** The use case's ledger rows whose session starts with `prefix-`. */
export async function ledgerRows(db: Db, useCase: string, prefix: string): Promise<LedgerRow[]> {
  const rows = (await db('usage_events').where('use_case_id', useCase).andWhereLike('session_id', `${prefix}-%`)
    .select('request_id', 'session_id', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', db.raw('cost::text as cost'), 'status', 'partial', 'model_served')) as LedgerRow[];
  return rows.map((r) => ({
    ...r, input_tokens: Number(r.input_tokens), cached_input_tokens: Number(r.cached_input_tokens),
    cache_write_tokens: Number(r.cache_write_tokens), output_tokens: Number(r.output_tokens), status: Number(r.status),
  }));
}

export function callIndexOfSession(session: string): number {
  return Number(session.slice(session.lastIndexOf('-') + 1));
}

/** The fake upstream's own records, keyed by call index (from the prompt it received). */
export function fakeRecordsByCall(upstream: FakeUpstream): Map<number, FakeRecord[]> {
  const out = new Map<number, FakeRecord[]>();
  upstream.usageLog.forEach((record, k) => {
    const m = /#call-(\d+)#/.exec(JSON.stringify(upstream.requests[k]?.body ?? null));
    if (!m) return;
    const i = Number(m[1]);
    out.set(i, [...(out.get(i) ?? []), { usage: record.usage, complete: record.complete, outcome: record.outcome, status: record.status, model: record.model }]);
  });
  return out;
}

export type FakeRecord = { usage: NormalizedUsage; complete: boolean; outcome: string; status: number; model: string | undefined };

/**
 * A partial row of a successful answer that ended before its usage report, metered as the gateway fills it in
 * (src/gateway/meter-call.ts, usageToMeter): the prompt as reported or, when none was, estimated (input only);
 * the output at least what was reported (a token per delta that went through).
 */
export function isFilledIn(row: LedgerRow, record: FakeRecord): boolean {
  if (!row.partial || record.complete || record.status >= 400) return false;
  const u = record.usage;
  const prompt = u.input_tokens === 0 && u.cached_input_tokens === 0 && u.cache_write_tokens === 0
    ? row.input_tokens > 0 && row.cached_input_tokens === 0 && row.cache_write_tokens === 0
    : row.input_tokens === u.input_tokens && row.cached_input_tokens === u.cached_input_tokens && row.cache_write_tokens === u.cache_write_tokens;
  return prompt && row.output_tokens >= u.output_tokens;
}

export function usageOf(u: NormalizedUsage): NormalizedUsage {
  return { input_tokens: u.input_tokens, cached_input_tokens: u.cached_input_tokens, cache_write_tokens: u.cache_write_tokens, output_tokens: u.output_tokens };
}

export function sumUsage(list: NormalizedUsage[]): NormalizedUsage {
  const z = { input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0 };
  for (const u of list) {
    z.input_tokens += u.input_tokens;
    z.cached_input_tokens += u.cached_input_tokens;
    z.cache_write_tokens += u.cache_write_tokens;
    z.output_tokens += u.output_tokens;
  }
  return z;
}

/**
 * The comparison every fault test ends with: each ledger row (of calls with this session prefix) matches
 * exactly one fake record of the same call with the same usage, and no call has two rows or two records.
 * Returns the call indexes the fake served that have no ledger row (the caller decides if that is allowed).
 * `filledIn`: calls cut before their usage report may be metered above what the upstream reported, as
 * isFilledIn allows; their indexes are pushed there instead of counting as mismatches.
 */
export function reconcile(rows: LedgerRow[], fake: Map<number, FakeRecord[]>, opts: { filledIn?: number[] } = {}): { unmatchedRows: string[]; duplicateCalls: number[]; mismatched: string[]; servedWithoutRow: number[] } {
  const byCall = new Map<number, LedgerRow[]>();
  for (const r of rows) {
    const i = callIndexOfSession(r.session_id);
    byCall.set(i, [...(byCall.get(i) ?? []), r]);
  }
  const unmatchedRows: string[] = [];
  const duplicateCalls: number[] = [];
  const mismatched: string[] = [];
  for (const [i, list] of byCall) {
    const records = fake.get(i) ?? [];
    if (list.length > 1 || records.length > 1) duplicateCalls.push(i);
    if (records.length === 0) {
      unmatchedRows.push(list[0]!.session_id);
      continue;
    }
    const want = JSON.stringify(usageOf(records[0]!.usage));
    const got = JSON.stringify(usageOf(list[0]!));
    if (want === got) continue;
    if (opts.filledIn && isFilledIn(list[0]!, records[0]!)) opts.filledIn.push(i);
    else mismatched.push(`call ${i}: ledger ${got} vs upstream ${want} (${records[0]!.outcome})`);
  }
  const servedWithoutRow = [...fake.keys()].filter((i) => !byCall.has(i)).sort((a, b) => a - b);
  return { unmatchedRows, duplicateCalls, mismatched, servedWithoutRow };
}
