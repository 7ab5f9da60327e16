import { Option, type Command } from 'commander';
import { API_ROLES, API_TOKEN_PREFIX, businessUnitExists, generateApiToken, hashApiToken, insertApiToken, listApiTokens, revokeApiToken, type ApiRole } from '../db/api-tokens.js';
import { withDb } from './db.js';

export function tokenCommands(token: Command): void {
  token.command('create')
    .description('create an API token and print it (only the token, once)')
    .addOption(new Option('--role <role>', 'what the token may read').choices([...API_ROLES]).makeOptionMandatory())
    .option('--bu <id>', 'the business unit (required for bu-owner, refused otherwise)')
    .option('--label <text>', 'a note to tell tokens apart (who or what holds it)')
    .action(async (opts: { role: ApiRole; bu?: string; label?: string }) => {
      if (opts.role === 'bu-owner' && !opts.bu) throw new Error('a bu-owner token needs --bu');
      if (opts.role !== 'bu-owner' && opts.bu) throw new Error(`--bu is only for bu-owner tokens (not ${opts.role})`);
      const created = await withDb(async (db) => {
        if (opts.bu && !(await businessUnitExists(db, opts.bu))) throw new Error(`unknown business unit "${opts.bu}"`);
        const t = generateApiToken();
        await insertApiToken(db, { id: t.id, hash: t.hash, prefix: t.prefix, role: opts.role, buId: opts.bu, label: opts.label });
        return t;
      });
      process.stdout.write(`${created.token}\n`);
    });

  token.command('revoke')
    .description('revoke a token, given its id (tok_…) or the token itself')
    .argument('<token-or-id>')
    .action(async (ref: string) => {
      const byToken = ref.startsWith(API_TOKEN_PREFIX);
      const row = await withDb((db) => revokeApiToken(db, byToken ? { hash: hashApiToken(ref) } : { id: ref }));
      if (!row) throw new Error(`no active token matches "${byToken ? `${ref.slice(0, 12)}…` : ref}"`);
      console.log(`revoked ${row.id} (${row.role}${row.bu_id ? ` of ${row.bu_id}` : ''}, ${row.prefix}…)`);
    });

  token.command('list')
    .description('list tokens (ids and prefixes, never the tokens)')
    .action(async () => {
      const rows = await withDb((db) => listApiTokens(db));
      console.table(rows.map((r) => ({ id: r.id, role: r.role, bu: r.bu_id ?? '', prefix: `${r.prefix}…`, label: r.label ?? '', created: new Date(r.created_at).toISOString(), revoked: r.revoked_at ? new Date(r.revoked_at).toISOString() : '' })));
    });
}
