import type { ReportKind, ReportPage, ReportProvider } from './types.js';

/**
 * One report API per provider, declared as data plus two pure functions (openai.ts, anthropic.ts): the runner,
 * the fetcher and the file import never branch on the provider.
 */
export type ReportAdapter = {
  provider: ReportProvider;
  paths: Readonly<Record<ReportKind, string>>;
  headers(adminKey: string): Record<string, string>;
  /** The query string of one page of [from, to) in daily buckets, `limit` buckets a page. */
  query(kind: ReportKind, range: { from: Date; to: Date }, limit: number, page: string | null): string;
  readPage(kind: ReportKind, body: unknown): ReportPage;
  /** What a page holds, from its results (a file mixes both); null for a page without results. */
  kindOf(body: unknown): ReportKind | null;
  /** Whether cost results carry the API key; if not, merge.ts splits a cost over the keys by their tokens. */
  costsByKey: boolean;
};

/** `group_by[]=a&group_by[]=b`: arrays as the official SDKs send them (their qs stringify, arrayFormat 'brackets'). */
export function queryString(params: Record<string, string | number | readonly string[] | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null) continue;
    if (Array.isArray(v)) for (const item of v) q.append(`${k}[]`, item);
    else q.append(k, String(v));
  }
  return q.toString();
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The first result of a page's buckets, to tell a usage page from a cost page. */
export function firstResult(body: unknown): Record<string, unknown> | undefined {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return undefined;
  for (const b of data) {
    const results = (b as { results?: unknown } | null)?.results;
    if (Array.isArray(results) && results.length > 0) return results[0] as Record<string, unknown>;
  }
  return undefined;
}
