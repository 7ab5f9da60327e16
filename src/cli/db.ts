import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/bootstrap.js';
import type { Db } from '../db/knex.js';

// Kept apart from main.ts, which parses argv when imported: the demo reuses the commands' helpers.

/** Runs `fn` against the configured database (migrated), then closes it; beside a running serve on PGlite, through serve. */
export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const { db, close } = await openDatabase(loadConfig(), { attach: true });
  try {
    return await fn(db);
  } finally {
    await close();
  }
}

export function positiveDecimal(value: string): string {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError('must be a positive number, e.g. 2500 or 12.50');
  return value;
}
