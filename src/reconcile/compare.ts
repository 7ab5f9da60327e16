import { add, compare, formatDecimal, MONEY_SCALE, parseDecimal, rescale, type Decimal } from '../metering/money.js';
import type { CoveredDay, LedgerDay, StoredReportRow } from '../db/reconcile.js';
import { REPORT_PROVIDERS, type CostSource, type ReportProvider, type Tokens } from './types.js';

/**
 * Shadow spend: what a provider's reports say minus what the ledger metered, per day × model × API key × scope.
 * tollgate calls each provider with one key of its own, so the ledger is that key's spend: on tollgate's key the
 * difference is metering error (or report lag), on every other key of the organization it is spend that never
 * crossed the gateway (bypass). Without the key configured, the keys cannot be told apart: the ledger is set
 * against the whole report and the difference is neither. Only days a run covered are compared. Pure.
 */

export const SHADOW_DIMENSIONS = ['PROVIDER', 'DAY', 'MODEL', 'KEY', 'SCOPE'] as const;
export type ShadowDimension = (typeof SHADOW_DIMENSIONS)[number];

export type ShadowKey = { provider: string | null; day: string | null; model: string | null; apiKeyId: string | null; scopeId: string | null };
type Side = 'tollgate' | 'other' | 'unknown';

export type ShadowFigures = {
  reported: string;
  metered: string;
  /** reported − metered */
  difference: string;
  /** Reported spend on keys that are not tollgate's. */
  bypass: string;
  /** reported − metered on tollgate's key. */
  meteringGap: string;
  reportedTokens: Tokens;
  meteredTokens: Tokens;
  requests: number;
  calls: number;
  costSources: CostSource[];
};
export type ShadowRow = ShadowFigures & { key: ShadowKey; tollgateKey: boolean | null };
export type ShadowReport = { rows: ShadowRow[]; totals: ShadowFigures; coveredDays: CoveredDay[] };

export type ShadowInput = {
  report: readonly StoredReportRow[];
  ledger: readonly LedgerDay[];
  covered: readonly CoveredDay[];
  /** The report's id of the key tollgate calls each provider with (settings). */
  tollgateKeys: Partial<Record<ReportProvider, string | undefined>>;
  groupBy: readonly ShadowDimension[];
};

type Acc = {
  key: ShadowKey; side: Side | null; reported: Decimal; metered: Decimal; bypass: Decimal; gap: Decimal;
  reportedTokens: Tokens; meteredTokens: Tokens; requests: number; calls: number; sources: Set<CostSource>;
};

export function shadowSpend(input: ShadowInput): ShadowReport {
  const covered = new Set(input.covered.map((c) => `${c.provider}|${c.day}`));
  const scopeOfTollgate = new Map<string, string>();
  for (const r of input.report) {
    if (r.apiKeyId !== '' && r.apiKeyId === input.tollgateKeys[r.provider] && r.scopeId !== '') scopeOfTollgate.set(r.provider, r.scopeId);
  }
  const full: Acc[] = [];
  for (const r of input.report) {
    const own = input.tollgateKeys[r.provider];
    const side: Side = own === undefined ? 'unknown' : r.apiKeyId === own ? 'tollgate' : 'other';
    const key = { provider: r.provider, day: r.day, model: r.model, apiKeyId: own === undefined ? null : r.apiKeyId || null, scopeId: r.scopeId || null };
    full.push({ ...empty(key, side), reported: parseDecimal(r.cost), reportedTokens: { ...r.tokens }, requests: r.requests, sources: new Set([r.costSource]) });
  }
  for (const l of input.ledger) {
    if (!(REPORT_PROVIDERS as readonly string[]).includes(l.provider) || !covered.has(`${l.provider}|${l.day}`)) continue;
    const own = input.tollgateKeys[l.provider as ReportProvider];
    const key = { provider: l.provider, day: l.day, model: l.model, apiKeyId: own ?? null, scopeId: own === undefined ? null : scopeOfTollgate.get(l.provider) ?? null };
    full.push({ ...empty(key, own === undefined ? 'unknown' : 'tollgate'), metered: parseDecimal(l.cost), meteredTokens: { input: l.input, cachedInput: l.cachedInput, cacheWrite: l.cacheWrite, output: l.output }, calls: l.calls });
  }
  const groups = new Map<string, Acc>();
  const totals = empty({ provider: null, day: null, model: null, apiKeyId: null, scopeId: null }, null);
  for (const f of full) {
    const key = project(f.key, input.groupBy);
    const id = JSON.stringify(key);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = empty(key, input.groupBy.includes('KEY') ? f.side : null)));
    addInto(g, f);
    addInto(totals, f);
  }
  const rows = [...groups.values()].sort((a, b) => order(a.key, b.key)).map((g) => ({ key: g.key, tollgateKey: sideFlag(g.side), ...figures(g) }));
  return { rows, totals: figures(totals), coveredDays: [...input.covered] };
}

function empty(key: ShadowKey, side: Side | null): Acc {
  const zero = { units: 0n, scale: 0 };
  return { key, side, reported: zero, metered: zero, bypass: zero, gap: zero, reportedTokens: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 }, meteredTokens: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 }, requests: 0, calls: 0, sources: new Set() };
}

function addInto(g: Acc, f: Acc): void {
  g.reported = add(g.reported, f.reported);
  g.metered = add(g.metered, f.metered);
  if (f.side === 'other') g.bypass = add(g.bypass, f.reported);
  if (f.side === 'tollgate') g.gap = add(g.gap, add(f.reported, negate(f.metered)));
  for (const k of ['input', 'cachedInput', 'cacheWrite', 'output'] as const) {
    g.reportedTokens[k] += f.reportedTokens[k];
    g.meteredTokens[k] += f.meteredTokens[k];
  }
  g.requests += f.requests;
  g.calls += f.calls;
  for (const s of f.sources) g.sources.add(s);
}

function figures(g: Acc): ShadowFigures {
  return {
    reported: money(g.reported), metered: money(g.metered), difference: money(add(g.reported, negate(g.metered))),
    bypass: money(g.bypass), meteringGap: money(g.gap), reportedTokens: g.reportedTokens, meteredTokens: g.meteredTokens,
    requests: g.requests, calls: g.calls, costSources: [...g.sources].sort(),
  };
}

const KEY_OF: Record<ShadowDimension, keyof ShadowKey> = { PROVIDER: 'provider', DAY: 'day', MODEL: 'model', KEY: 'apiKeyId', SCOPE: 'scopeId' };

function project(key: ShadowKey, groupBy: readonly ShadowDimension[]): ShadowKey {
  const out: ShadowKey = { provider: null, day: null, model: null, apiKeyId: null, scopeId: null };
  for (const d of groupBy) out[KEY_OF[d]] = key[KEY_OF[d]];
  return out;
}

function order(a: ShadowKey, b: ShadowKey): number {
  for (const d of SHADOW_DIMENSIONS) {
    const [x, y] = [a[KEY_OF[d]] ?? '', b[KEY_OF[d]] ?? ''];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function sideFlag(side: Side | null): boolean | null {
  return side === 'tollgate' ? true : side === 'other' ? false : null;
}

function negate(d: Decimal): Decimal {
  return { units: -d.units, scale: d.scale };
}

function money(d: Decimal): string {
  const m = rescale(d, MONEY_SCALE);
  return formatDecimal(m.units === 0n ? { units: 0n, scale: MONEY_SCALE } : m);
}

/** Whether a day's difference reaches the notification threshold (0 turns notices off). */
export function passes(difference: string, threshold: string): boolean {
  if (compare(threshold, '0') <= 0) return false;
  const abs = difference.startsWith('-') ? difference.slice(1) : difference;
  return compare(abs, threshold) >= 0;
}
