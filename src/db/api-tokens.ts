import crypto from 'node:crypto';
import type { Db } from './knex.js';

/** API tokens for people and tools reading analytics or scraping metrics (never for agents: those hold agent keys). */

export const API_TOKEN_PREFIX = 'tga_';
export const API_ROLES = ['finance', 'admin', 'council', 'bu-owner', 'metrics'] as const;
export type ApiRole = (typeof API_ROLES)[number];

const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^tga_[A-Za-z0-9_-]{43}$/;

export type ApiTokenRow = { id: string; prefix: string; role: ApiRole; bu_id: string | null; label: string | null; created_at: Date; revoked_at: Date | null };
const ROW = ['id', 'prefix', 'role', 'bu_id', 'label', 'created_at', 'revoked_at'];

/** A new token: `tga_` + 256 random bits, base64url. Shown once; only its sha256 is stored. */
export function generateApiToken(): { token: string; id: string; hash: string; prefix: string } {
  const token = API_TOKEN_PREFIX + crypto.randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, id: `tok_${crypto.randomBytes(8).toString('hex')}`, hash: hashApiToken(token), prefix: token.slice(0, 12) };
}

export function hashApiToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export function looksLikeApiToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export async function insertApiToken(db: Db, t: { id: string; hash: string; prefix: string; role: ApiRole; buId?: string | null; label?: string | null }): Promise<void> {
  await db('api_tokens').insert({ id: t.id, token_hash: t.hash, prefix: t.prefix, role: t.role, bu_id: t.buId ?? null, label: t.label ?? null });
}

/** The active token with this hash, if any (revoked tokens are not found). */
export async function findActiveApiToken(db: Db, hash: string): Promise<ApiTokenRow | undefined> {
  return db('api_tokens').where('token_hash', hash).whereNull('revoked_at').first(ROW);
}

/** Revokes by id (tok_…) or by the token itself (its hash); returns the revoked row, if one was active. */
export async function revokeApiToken(db: Db, by: { id: string } | { hash: string }): Promise<ApiTokenRow | undefined> {
  const q = db('api_tokens').whereNull('revoked_at');
  if ('id' in by) q.where('id', by.id);
  else q.where('token_hash', by.hash);
  const rows = (await q.update({ revoked_at: db.fn.now() }).returning(ROW)) as ApiTokenRow[];
  return rows[0];
}

export async function listApiTokens(db: Db): Promise<ApiTokenRow[]> {
  return db('api_tokens').select(ROW).orderBy('created_at');
}

export async function businessUnitExists(db: Db, buId: string): Promise<boolean> {
  return Boolean(await db('business_units').where('id', buId).first('id'));
}
