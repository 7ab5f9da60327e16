import type { Knex } from 'knex';
import type { MercuriusContext } from 'mercurius';
import type { Caller } from './access.js';
import { AnalyticsError } from './errors.js';

/** What every resolver and loader gets: the caller (null when the token is missing or bad) and the db. */
export type GqlContext = MercuriusContext & { caller: Caller | null; db: Knex; timeoutMs: number; budgetsChanged?: () => Promise<void> };

// Postgres' "canceling statement due to statement timeout".
const QUERY_CANCELED = '57014';

/**
 * Runs one resolver's database work within the query time limit: Postgres cancels the statement itself
 * (statement_timeout on the analytics pool); the race also bounds PGlite, which cannot be interrupted.
 */
export async function withTimeout<T>(ctx: GqlContext, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AnalyticsError('TIMEOUT', `the query ran past ${ctx.timeoutMs} ms`)), ctx.timeoutMs);
  });
  try {
    return await Promise.race([work(), limit]);
  } catch (err) {
    if ((err as { code?: unknown }).code === QUERY_CANCELED) throw new AnalyticsError('TIMEOUT', `the query ran past ${ctx.timeoutMs} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
