import fs from 'node:fs/promises';
import type { Db } from '../db/knex.js';
import { parseReportJson } from './json.js';
import { ADAPTERS, storePages, type ReconcileSettings, type RunSummary } from './runner.js';
import { ReportError, type ReportPage, type ReportProvider } from './types.js';

/**
 * `tollgate reconcile import`: the providers document no format for their consoles' CSV exports, so the file
 * is what their report APIs answer: one page, a JSON array of pages, or one page per line (JSON lines), usage
 * and cost pages mixed, each page told apart by its results. The days its buckets cover replace the stored ones.
 */
export async function importReportFile(db: Db, settings: ReconcileSettings, req: { provider: ReportProvider; file: string; triggeredBy: string }): Promise<RunSummary> {
  const text = await fs.readFile(req.file, 'utf8');
  const adapter = ADAPTERS[req.provider];
  const pages: ReportPage[] = pageBodies(text).map((body, i) => {
    try {
      return adapter.readPage(adapter.kindOf(body) ?? 'usage', body);
    } catch (err) {
      throw new ReportError(`page ${i + 1} of ${req.file}: ${(err as Error).message}`, { cause: err });
    }
  });
  return storePages(db, settings, { provider: req.provider, pages, triggeredBy: req.triggeredBy });
}

export function pageBodies(text: string): unknown[] {
  let whole: unknown;
  try {
    whole = parseReportJson(text);
  } catch {
    return text.split('\n').map((l) => l.trim()).filter(Boolean).map((line, i) => {
      try {
        return parseReportJson(line);
      } catch (err) {
        throw new ReportError(`line ${i + 1} is not a JSON report page: ${(err as Error).message}`);
      }
    });
  }
  return Array.isArray(whole) ? whole : [whole];
}
