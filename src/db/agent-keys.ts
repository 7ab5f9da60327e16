import type { Db } from './knex.js';

export type AgentKeyRow = { id: string; agent_id: string; key_prefix: string; label: string | null; created_at: Date; revoked_at: Date | null };

export async function insertAgentKey(db: Db, k: { id: string; agentId: string; hash: string; prefix: string; label?: string }): Promise<void> {
  await db('agent_keys').insert({ id: k.id, agent_id: k.agentId, key_hash: k.hash, key_prefix: k.prefix, label: k.label ?? null });
}

export async function findAgentKeyByHash(db: Db, hash: string): Promise<AgentKeyRow | undefined> {
  return db('agent_keys').where('key_hash', hash).first('id', 'agent_id', 'key_prefix', 'label', 'created_at', 'revoked_at');
}

/** Revokes by key id or by the key itself (its hash); returns the revoked row, if any was active. */
export async function revokeAgentKey(db: Db, by: { id?: string; hash?: string }): Promise<AgentKeyRow | undefined> {
  const q = db('agent_keys').whereNull('revoked_at');
  if (by.id) q.where('id', by.id);
  else if (by.hash) q.where('key_hash', by.hash);
  else return undefined;
  const rows = await q.update({ revoked_at: db.fn.now() }).returning(['id', 'agent_id', 'key_prefix', 'label', 'created_at', 'revoked_at']);
  return rows[0];
}

export async function listAgentKeys(db: Db, agentId?: string): Promise<AgentKeyRow[]> {
  const q = db<AgentKeyRow>('agent_keys').select('id', 'agent_id', 'key_prefix', 'label', 'created_at', 'revoked_at').orderBy('created_at');
  if (agentId) q.where({ agent_id: agentId });
  return q;
}

export async function agentExists(db: Db, agentId: string): Promise<boolean> {
  return Boolean(await db('agents').where({ id: agentId }).first('id'));
}
