import { setTimeout as sleep } from 'node:timers/promises';
import type { ReportAdapter } from './adapter.js';
import { parseReportJson } from './json.js';
import { ReportError, type ReportKind, type ReportPage } from './types.js';

/**
 * Pulls every page of one report for [from, to): follows next_page while has_more, and retries a page that
 * failed for a reason that may pass (a network error, 408, 429, 5xx) with backoff. Nothing is written here:
 * the caller gets all pages or an error, so a run never stores part of a range.
 */

export type FetchOptions = {
  baseUrl: string;
  adminKey: string;
  /** Buckets per page: 31, the most every one of these reports accepts for daily buckets (their default is 7). */
  limit?: number;
  attempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
};

export const FETCH_DEFAULTS = Object.freeze({ limit: 31, attempts: 4, backoffMs: 1000, timeoutMs: 30_000 });
// A cursor that never ends (a provider bug) must not loop forever: a year of daily buckets at one per page.
const MAX_PAGES = 400;
const MAX_WAIT_MS = 60_000;

export async function fetchReport(adapter: ReportAdapter, kind: ReportKind, range: { from: Date; to: Date }, o: FetchOptions): Promise<ReportPage[]> {
  const pages: ReportPage[] = [];
  let cursor: string | null = null;
  do {
    if (pages.length >= MAX_PAGES) throw new ReportError(`${adapter.provider} ${kind} report: more than ${MAX_PAGES} pages, giving up`);
    const url = `${o.baseUrl.replace(/\/+$/, '')}${adapter.paths[kind]}?${adapter.query(kind, range, o.limit ?? FETCH_DEFAULTS.limit, cursor)}`;
    const page = adapter.readPage(kind, await getWithRetries(url, adapter.headers(o.adminKey), o));
    pages.push(page);
    cursor = page.hasMore ? page.nextPage : null;
  } while (cursor !== null);
  return pages;
}

async function getWithRetries(url: string, headers: Record<string, string>, o: FetchOptions): Promise<unknown> {
  const attempts = o.attempts ?? FETCH_DEFAULTS.attempts;
  for (let attempt = 1; ; attempt++) {
    const result = await getOnce(url, headers, o);
    if (result.ok) return result.body;
    if (!result.retry || attempt >= attempts) throw new ReportError(`${new URL(url).pathname}: ${result.error}${result.retry ? ` (after ${attempt} attempts)` : ''}`);
    const backoff = (o.backoffMs ?? FETCH_DEFAULTS.backoffMs) * 2 ** (attempt - 1);
    await sleep(Math.min(MAX_WAIT_MS, Math.max(backoff, result.retryAfterMs ?? 0)));
  }
}

type Outcome = { ok: true; body: unknown } | { ok: false; retry: boolean; error: string; retryAfterMs?: number };

async function getOnce(url: string, headers: Record<string, string>, o: FetchOptions): Promise<Outcome> {
  let res: Response;
  try {
    res = await (o.fetch ?? globalThis.fetch)(url, { headers: { accept: 'application/json', 'user-agent': 'tollgate-reconcile', ...headers }, signal: AbortSignal.timeout(o.timeoutMs ?? FETCH_DEFAULTS.timeoutMs) });
  } catch (err) {
    return { ok: false, retry: true, error: (err as Error).name === 'TimeoutError' ? 'timed out' : `unreachable: ${(err as Error).message}` };
  }
  const text = await res.text().catch(() => '');
  if (res.ok) return { ok: true, body: parseReportJson(text) };
  const retry = res.status === 408 || res.status === 429 || res.status >= 500;
  // Both providers send retry-after (seconds) with a 429; waiting less only spends the next attempt.
  const retryAfter = Number(res.headers.get('retry-after'));
  return { ok: false, retry, error: `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
}
