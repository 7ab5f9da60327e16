import { tokenCount } from '../providers/json.js';
import { TOOL_NAME } from '../providers/tools.js';
import type { DecisionRecord, InflightRecord, JournalRecord, TierRecord, UsageEvent } from './types.js';

/**
 * The copy of a record Postgres refused that it can take: every text without control characters (NUL above
 * all, which neither text nor jsonb can hold) or lone surrogates, and at most MAX_TEXT_BYTES of UTF-8 (an index
 * row holds about 2,700 bytes, and a rollup key joins five texts); a usage event's numbers made valid and its
 * row flagged `sanitized`. The original stays in the dead-letter table. A call the upstream served must end in
 * the ledger even when what came with it could not be stored as it was.
 *
 * Only the writer's rare path runs this, never the hot path.
 */

export const MAX_TEXT_BYTES = 200;

const CONTROL = /\p{Cc}/gu;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const MONEY = /^-?\d{1,11}(\.\d{1,12})?$/;
const INT4_MAX = 2_147_483_647;
const UNKNOWN = 'unknown';

/** The sanitized copy, or null when sanitizing changes nothing (the refusal was about something else). */
export function sanitizeRecord(record: JournalRecord): JournalRecord | null {
  const copy = sanitizeKind(cleanDeep(record) as JournalRecord);
  if (JSON.stringify(copy) === JSON.stringify(record)) return null;
  if (copy.kind === 'usage') return flagged(copy);
  if (copy.kind === 'inflight') return { ...copy, fallback: flagged(copy.fallback) };
  return copy;
}

function flagged(e: UsageEvent): UsageEvent {
  return { ...e, flags: [...(e.flags ?? []), 'sanitized'] };
}

export function cleanText(text: string): string {
  const clean = text.replace(CONTROL, '').replace(LONE_SURROGATE, '\uFFFD');
  if (Buffer.byteLength(clean) <= MAX_TEXT_BYTES) return clean;
  let out = '';
  let bytes = 0;
  for (const ch of clean) {
    bytes += Buffer.byteLength(ch);
    if (bytes > MAX_TEXT_BYTES) break;
    out += ch;
  }
  return out;
}

function cleanDeep(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (Array.isArray(value)) return value.map(cleanDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [cleanText(k), cleanDeep(v)]));
  }
  return value;
}

function sanitizeKind(record: JournalRecord): JournalRecord {
  switch (record.kind) {
    case 'usage': return sanitizeUsage(record);
    case 'inflight': return { ...record, fallback: sanitizeUsage(record.fallback) } satisfies InflightRecord;
    case 'decision': return sanitizeDecision(record);
    case 'tier': return record satisfies TierRecord;
  }
}

const USAGE_TEXT = [
  'bu_id', 'use_case_id', 'agent_id', 'session_id', 'provider', 'endpoint', 'model_requested', 'model_served',
  'currency', 'decision_code', 'policy_revision', 'budget_tier',
] as const;

function sanitizeUsage(e: UsageEvent): UsageEvent {
  const out: UsageEvent = { ...e };
  for (const key of USAGE_TEXT) out[key] = typeof e[key] === 'string' && e[key] !== '' ? e[key] : UNKNOWN;
  for (const key of ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens'] as const) out[key] = tokenCount(e[key]) ?? 0;
  out.parent_request_id = typeof e.parent_request_id === 'string' ? e.parent_request_id : null;
  out.cost = typeof e.cost === 'string' && MONEY.test(e.cost) ? e.cost : '0';
  out.price_id = int4(e.price_id) ?? null;
  out.status = int4(e.status) ?? 0;
  out.latency_ms = int4(e.latency_ms) ?? 0;
  out.partial = e.partial === true;
  const tools = Array.isArray(e.tools) ? e.tools.filter((t) => typeof t === 'string' && TOOL_NAME.test(t)) : [];
  if (tools.length > 0) out.tools = tools;
  else delete out.tools;
  if (Array.isArray(e.flags)) out.flags = e.flags;
  else delete out.flags;
  return out;
}

function sanitizeDecision(d: DecisionRecord): DecisionRecord {
  const reasons = Array.isArray(d.reasons) ? d.reasons : [];
  return {
    ...d,
    provider: typeof d.provider === 'string' ? d.provider : UNKNOWN,
    endpoint: typeof d.endpoint === 'string' ? d.endpoint : UNKNOWN,
    code: typeof d.code === 'string' ? d.code : UNKNOWN,
    message: typeof d.message === 'string' ? d.message : '',
    budget_tier: typeof d.budget_tier === 'string' ? d.budget_tier : UNKNOWN,
    allowed: d.allowed === true,
    http_status: int4(d.http_status) ?? 0,
    reasons: reasons.map((r) => ({ code: String(r?.code ?? ''), message: String(r?.message ?? '') })),
  };
}

function int4(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= INT4_MAX ? value : undefined;
}
