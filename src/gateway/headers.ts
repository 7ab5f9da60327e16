import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderRules } from '../providers/types.js';

/**
 * Applies a provider adapter's header rules (src/providers/<name>/headers.ts), the same way for every provider:
 * an allowlist each way, nothing passes by default. Built once per provider at start. The caller's trace context
 * is not listed: with traces on, the forwarder sets the gateway span's own (src/gateway/forward.ts).
 */
export type HeaderFilter = {
  /** The agent's headers that go upstream, with tollgate's own set on, and the list members dropped per header. */
  request(incoming: IncomingHttpHeaders): { headers: Record<string, string>; dropped: [header: string, values: string][] };
  /** The upstream's answer headers the agent may see. */
  response(upstream: IncomingHttpHeaders): IncomingHttpHeaders;
};

export function headerFilter(rules: HeaderRules): HeaderFilter {
  const lists = Object.entries(rules.requestLists);
  const own = Object.entries({ ...rules.set, 'accept-encoding': 'identity' });
  const passBack = new Set(rules.response);
  const passBackPrefix = (name: string) => {
    for (const prefix of rules.responsePrefixes) if (name.startsWith(prefix)) return true;
    return false;
  };
  return {
    request(incoming) {
      const headers: Record<string, string> = {};
      for (const name of rules.request) {
        const value = incoming[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const dropped: [string, string][] = [];
      for (const [name, allowed] of lists) {
        const value = incoming[name];
        if (typeof value !== 'string') continue;
        const members = value.split(',').map((m) => m.trim()).filter((m) => m !== '');
        const kept = members.filter((m) => allowed.has(m));
        if (kept.length > 0) headers[name] = kept.join(',');
        if (kept.length < members.length) dropped.push([name, members.filter((m) => !allowed.has(m)).join(',')]);
      }
      // Set last, over anything listed; usage is read from the answer's body, so it is asked for uncompressed.
      for (const [name, value] of own) headers[name] = value;
      return { headers, dropped };
    },
    response(upstream) {
      const out: IncomingHttpHeaders = {};
      for (const name in upstream) if (passBack.has(name) || passBackPrefix(name)) out[name] = upstream[name];
      return out;
    },
  };
}
