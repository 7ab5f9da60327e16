import type { Db } from '../../db/knex.js';
import { insertPrices, loadCatalogModels, loadPriceHistory, lockPriceImports, type PriceVersion } from '../../db/price-book.js';
import { diffPrices, type DiffLine } from './diff.js';
import { parseLiteLlm } from './litellm.js';
import { parseTollgateCsv, parseTollgateJson } from './tollgate-format.js';
import type { ParsedPrices } from './types.js';

export type PriceFormat = 'litellm' | 'tollgate-json' | 'tollgate-csv';

export type ImportOptions = {
  text: string;
  format: PriceFormat;
  /** Where the prices came from, kept on each row written (the file name unless the file says). */
  source: string;
  /** When prices without their own effective_from take effect (default: now). */
  effectiveFrom?: Date;
  dryRun?: boolean;
  now?: Date;
};

export type ImportReport = Omit<ParsedPrices, 'prices'> & {
  lines: DiffLine[];
  /** Catalog models the file gives no price for. */
  notCovered: string[];
  written: number[];
  dryRun: boolean;
};

export class PriceImportRefused extends Error {}

/**
 * Parses a price file, diffs it against the price book and, unless it is a dry run, appends the new and changed
 * prices in one transaction (all or nothing; any refused line refuses the import). Idempotent: prices equal
 * to the ones in force at their time are not written again.
 */
export async function importPrices(db: Db, opts: ImportOptions): Promise<ImportReport> {
  const catalog = await loadCatalogModels(db);
  const parsed = parse(opts, catalog);
  const from = opts.effectiveFrom ?? opts.now ?? new Date();
  const report = (lines: DiffLine[], written: number[]): ImportReport => ({
    notInCatalog: parsed.notInCatalog, skipped: parsed.skipped, rejected: parsed.rejected, lines, written, dryRun: opts.dryRun === true,
    notCovered: catalog.models.map((m) => m.id).filter((id) => !parsed.prices.some((p) => p.model_id === id)),
  });
  if (opts.dryRun) return report(diffPrices(parsed.prices, historyOf(await loadPriceHistory(db)), from), []);
  return db.transaction(async (trx) => {
    await lockPriceImports(trx);
    const lines = diffPrices(parsed.prices, historyOf(await loadPriceHistory(trx)), from);
    const refused = lines.filter((l) => l.status === 'refused');
    if (refused.length > 0) {
      throw new PriceImportRefused(`nothing written: ${refused.map((l) => `${l.price.model_id} (${l.price.service_tier}): ${'reason' in l ? l.reason : ''}`).join('; ')}`);
    }
    const toWrite = lines.filter((l) => l.status === 'new' || l.status === 'changed').map((l) => ({ ...l.price, effective_from: l.effectiveFrom }));
    return report(lines, await insertPrices(trx, toWrite));
  });
}

function parse(opts: ImportOptions, catalog: Awaited<ReturnType<typeof loadCatalogModels>>): ParsedPrices {
  if (opts.format === 'litellm') return parseLiteLlm(opts.text, catalog, opts.source);
  if (opts.format === 'tollgate-csv') return parseTollgateCsv(opts.text, catalog, opts.source);
  return parseTollgateJson(opts.text, catalog, opts.source);
}

function historyOf(rows: readonly PriceVersion[]) {
  const byKey = new Map<string, PriceVersion[]>();
  for (const r of rows) {
    const key = `${r.model_id}\u0000${r.service_tier ?? 'standard'}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  return (modelId: string, tier: string) => byKey.get(`${modelId}\u0000${tier}`) ?? [];
}
