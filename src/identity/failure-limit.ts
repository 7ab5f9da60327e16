import { LRUCache } from 'lru-cache';

/**
 * Failed authentications per source address. Past `limit` failures in a window, the source's credentials are
 * refused without a key-store lookup or a signature check until the window ends, except those that have
 * authenticated before (anywhere): a successful call is never limited. Memory is bounded by LRU eviction.
 */
export type FailureLimitOptions = {
  /** Failures a source may have per window; 0 turns the limit off. */
  limit: number;
  windowMs: number;
  /** Sources tracked at once (least recently failing evicted first). */
  maxSources?: number;
  /** Fingerprints of credentials that authenticated, remembered at once. */
  maxTrusted?: number;
};

export const FAILURE_LIMIT_DEFAULTS = { maxSources: 10_000, maxTrusted: 10_000 };

type Window = { failures: number; until: number };

export class AuthFailureLimit {
  private readonly sources: LRUCache<string, Window>;
  private readonly trusted: LRUCache<string, true>;

  constructor(private readonly opts: FailureLimitOptions) {
    this.sources = new LRUCache({ max: opts.maxSources ?? FAILURE_LIMIT_DEFAULTS.maxSources });
    this.trusted = new LRUCache({ max: opts.maxTrusted ?? FAILURE_LIMIT_DEFAULTS.maxTrusted });
  }

  /** Whole seconds until `source` may present an unknown credential again; 0 when it may now. */
  retryAfter(source: string, now = Date.now()): number {
    if (this.opts.limit === 0) return 0;
    const w = this.sources.peek(sourceKey(source));
    if (w === undefined || w.failures < this.opts.limit || w.until <= now) return 0;
    return Math.ceil((w.until - now) / 1000);
  }

  /** Counts a failure; true when it is the one that reaches the limit (worth one log line). */
  failed(source: string, now = Date.now()): boolean {
    if (this.opts.limit === 0) return false;
    const key = sourceKey(source);
    const w = this.sources.get(key);
    if (w === undefined || w.until <= now) {
      this.sources.set(key, { failures: 1, until: now + this.opts.windowMs });
      return this.opts.limit === 1;
    }
    w.failures++;
    return w.failures === this.opts.limit;
  }

  trust(fingerprint: string): void {
    if (this.opts.limit > 0) this.trusted.set(fingerprint, true);
  }

  isTrusted(fingerprint: string): boolean {
    return this.trusted.has(fingerprint);
  }
}

/**
 * The unit a limit applies to: an IPv4 address, or an IPv6 /64 (the smallest block a host is usually given,
 * so one host cannot step around its limit through its own 2^64 addresses). IPv4-mapped IPv6 is IPv4.
 */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  const bare = address.split('%', 1)[0]!.toLowerCase();
  if (bare.startsWith('::ffff:') && bare.includes('.')) return bare.slice(7);
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 address (…:1.2.3.4) takes the place of two groups.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - width(left) - width(right))).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16))).join(':')}::/64`;
}
