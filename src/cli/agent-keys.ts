import type { Command } from 'commander';
import { agentExists, insertAgentKey, listAgentKeys, revokeAgentKey } from '../db/agent-keys.js';
import { AGENT_KEY_PREFIX, generateAgentKey, hashAgentKey } from '../identity/keys.js';
import { withDb } from './db.js';

export function agentKeyCommands(agent: Command): void {
  const key = agent.command('key').description('agent keys (tg_…): shown once, stored hashed');

  key.command('create')
    .description('create a key for an agent and print it (only the key, once)')
    .requiredOption('--agent <id>', 'agent id from the catalog')
    .option('--label <text>', 'a note to tell keys apart')
    .action(async (opts: { agent: string; label?: string }) => {
      const created = await withDb(async (db) => {
        if (!(await agentExists(db, opts.agent))) throw new Error(`unknown agent "${opts.agent}": it is not in the catalog`);
        const k = generateAgentKey();
        await insertAgentKey(db, { id: k.id, agentId: opts.agent, hash: k.hash, prefix: k.prefix, label: opts.label });
        return k;
      });
      process.stdout.write(`${created.key}\n`);
    });

  key.command('revoke')
    .description('revoke a key, given its id (key_…) or the key itself')
    .argument('<key-or-id>')
    .action(async (ref: string) => {
      const by = ref.startsWith(AGENT_KEY_PREFIX) ? { hash: hashAgentKey(ref) } : { id: ref };
      const row = await withDb((db) => revokeAgentKey(db, by));
      if (!row) throw new Error(`no active key matches "${ref.startsWith(AGENT_KEY_PREFIX) ? `${ref.slice(0, 10)}…` : ref}"`);
      console.log(`revoked ${row.id} (agent ${row.agent_id}, ${row.key_prefix}…)`);
    });

  key.command('list')
    .description('list keys (ids and prefixes, never the keys)')
    .option('--agent <id>', 'only this agent')
    .action(async (opts: { agent?: string }) => {
      const rows = await withDb((db) => listAgentKeys(db, opts.agent));
      console.table(rows.map((r) => ({ id: r.id, agent: r.agent_id, prefix: `${r.key_prefix}…`, label: r.label ?? '', created: new Date(r.created_at).toISOString(), revoked: r.revoked_at ? new Date(r.revoked_at).toISOString() : '' })));
    });
}
