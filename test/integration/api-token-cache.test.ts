import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiToken, insertApiToken, revokeApiToken } from '../../src/db/api-tokens.js';
import { createDb, type Db } from '../../src/db/knex.js';
import { callerOfAuthorization } from '../../src/graphql/caller.js';
import { createTestDb, TEST_DB_KIND, type TestDb } from '../helpers/db.js';

let t: TestDb;

beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => t?.drop());

async function token(db: Db, role: 'metrics' | 'finance'): Promise<string> {
  const g = generateApiToken();
  await insertApiToken(db, { id: g.id, hash: g.hash, prefix: g.prefix, role });
  return g.token;
}

describe('API token lookup', () => {
  it('takes metrics tokens (the role the migration adds), and forgets a revoked token', async () => {
    const scraper = await token(t.db, 'metrics');
    expect(await callerOfAuthorization(t.db, `Bearer ${scraper}`)).toMatchObject({ role: 'metrics', buId: null });
    await revokeApiToken(t.db, { id: (await t.db('api_tokens').where({ role: 'metrics' }).first('id')).id });
    expect(await callerOfAuthorization(t.db, `Bearer ${scraper}`)).toBeNull();
    expect(await callerOfAuthorization(t.db, 'Basic abc')).toBeNull();
  });

  it.runIf(TEST_DB_KIND === 'postgres')('keeps answering for a token seen active while the database is unreachable, and only for it', async () => {
    // A pool of its own, closed under the lookup: queries then fail as they do when Postgres is away.
    const db = createDb({ kind: 'postgres', url: t.url! });
    const seen = await token(t.db, 'metrics');
    const unseen = await token(t.db, 'finance');
    expect(await callerOfAuthorization(db, `Bearer ${seen}`)).toMatchObject({ role: 'metrics' });
    await db.destroy();
    expect(await callerOfAuthorization(db, `Bearer ${seen}`)).toMatchObject({ role: 'metrics' });
    await expect(callerOfAuthorization(db, `Bearer ${unseen}`)).rejects.toThrow();
  });
});
