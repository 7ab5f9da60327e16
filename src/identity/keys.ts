import crypto from 'node:crypto';

export const AGENT_KEY_PREFIX = 'tg_';
const KEY_BYTES = 32;

/** A new agent key: `tg_` + 256 random bits, base64url. Shown once; only its hash is stored. */
export function generateAgentKey(): { key: string; id: string; hash: string; prefix: string } {
  const key = AGENT_KEY_PREFIX + crypto.randomBytes(KEY_BYTES).toString('base64url');
  return { key, id: `key_${crypto.randomBytes(8).toString('hex')}`, hash: hashAgentKey(key), prefix: key.slice(0, 10) };
}

export function hashAgentKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

export function looksLikeAgentKey(token: string): boolean {
  return token.startsWith(AGENT_KEY_PREFIX) && /^tg_[A-Za-z0-9_-]{43}$/.test(token);
}

export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}
