import type { ProviderSettings } from '../config.js';
import type { ProviderAdapter } from '../providers/types.js';

/**
 * The call a request URL names on an adapter's route: its endpoint (a key of the adapter's endpoints when
 * `known`), the model its path names, and where it goes upstream. For OpenAI and Anthropic the path after the
 * prefix is the endpoint; Azure and Gemini name the model (and Gemini the method) in the path.
 */
export type RoutedCall = {
  endpoint: string;
  known: boolean;
  model?: string;
  /** Why a known call's URL is refused (a missing api-version). */
  problem?: string;
  /** The upstream path and query for the model served; absent: the proxy's own rewrite of the URL. */
  upstreamUrl?: (model: string) => string;
};

export function routeOf(adapter: ProviderAdapter, url: string, settings?: ProviderSettings): RoutedCall {
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const tree = treeOf(adapter, path);
  const rest = path.startsWith(tree.prefix) ? path.slice(tree.prefix.length) || '/' : path;
  if (!adapter.routePath) return { endpoint: rest, known: adapter.endpoints.includes(rest) };
  const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
  const call = adapter.routePath(rest, query, settings);
  if (call === null) return { endpoint: rest, known: false };
  if ('problem' in call) return { endpoint: rest, known: true, problem: call.problem };
  const forwarded = forwardedQuery(query, adapter.queryAllowlist);
  return {
    endpoint: call.endpoint,
    known: adapter.endpoints.includes(call.endpoint),
    ...(call.model === undefined ? {} : { model: call.model }),
    upstreamUrl: (model) => `${tree.upstreamPrefix}${call.upstreamPath(model)}${forwarded}`,
  };
}

/** Each route prefix of an adapter, with what it becomes upstream: its own, then any further ones (API versions). */
export function treesOf(adapter: ProviderAdapter): readonly Readonly<{ prefix: string; upstreamPrefix: string }>[] {
  return [{ prefix: adapter.prefix, upstreamPrefix: adapter.upstreamPrefix }, ...(adapter.morePrefixes ?? [])];
}

/** The tree a path is under (a whole segment matches: /vertex/v1 is not the prefix of /vertex/v1beta1/…); else the adapter's own. */
export function treeOf(adapter: ProviderAdapter, path: string): Readonly<{ prefix: string; upstreamPrefix: string }> {
  for (const tree of adapter.morePrefixes ?? []) {
    if (path === tree.prefix || path.startsWith(`${tree.prefix}/`) || path.startsWith(`${tree.prefix}?`)) return tree;
  }
  return { prefix: adapter.prefix, upstreamPrefix: adapter.upstreamPrefix };
}

/** The query parameters the adapter lets through, as a search string ('' when none). */
function forwardedQuery(query: URLSearchParams, allowlist: readonly string[] | undefined): string {
  const kept = new URLSearchParams();
  for (const [name, value] of query) if (allowlist === undefined || allowlist.includes(name)) kept.append(name, value);
  const text = kept.toString();
  return text === '' ? '' : `?${text}`;
}
