import type { OutcomePointInput, UpsertCounts } from '../db/outcomes.js';

/**
 * Bulk outcome ingest, shared by `POST /v1/outcomes` and `tollgate outcome import`: records are parsed one
 * by one from a stream, validated, and handed to `write` in batches, so a file of any size runs in bounded
 * memory. A bad record is rejected with its line number; the others are written.
 *
 * Formats: CSV with the header `use_case,metric,ts,value` (an optional `source` column after them), JSON
 * lines, or a JSON array of `{ use_case, metric, ts, value }`. `ts` is ISO 8601 with a zone, or a date
 * (midnight UTC); `value` is a decimal (string or number).
 */

export type OutcomeFormat = 'csv' | 'jsonl';
export type Reject = { line: number; error: string };
export type ImportResult = UpsertCounts & { rejected: number; rejects: Reject[] };
export type ImportProgress = { lines: number; bytes: number };

export const CSV_HEADER = ['use_case', 'metric', 'ts', 'value'] as const;
export const IMPORT_BATCH = 5000;
// The response lists at most this many rejects (all are counted).
export const MAX_REJECTS_LISTED = 1000;

const DECIMAL = /^-?\d+(\.\d+)?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export type ImportOptions = {
  format: OutcomeFormat;
  useCases: ReadonlySet<string>;
  source: string;
  write(batch: OutcomePointInput[]): Promise<UpsertCounts>;
  onProgress?(p: ImportProgress): void;
  batchSize?: number;
};

/** Reads `lines` (without their newlines) to the end; returns what was inserted, updated, unchanged and rejected. */
export async function importOutcomeLines(lines: AsyncIterable<string> | Iterable<string>, opts: ImportOptions): Promise<ImportResult> {
  const result: ImportResult = { inserted: 0, updated: 0, unchanged: 0, rejected: 0, rejects: [] };
  const batchSize = opts.batchSize ?? IMPORT_BATCH;
  let batch: OutcomePointInput[] = [];
  let header: string[] | null = null;
  let lineNo = 0;
  let bytes = 0;
  const reject = (line: number, error: string) => {
    result.rejected++;
    if (result.rejects.length < MAX_REJECTS_LISTED) result.rejects.push({ line, error });
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const c = await opts.write(batch);
    result.inserted += c.inserted;
    result.updated += c.updated;
    result.unchanged += c.unchanged;
    batch = [];
  };
  for await (const raw of lines) {
    lineNo++;
    bytes += Buffer.byteLength(raw) + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (opts.format === 'csv' && header === null) {
      header = splitCsv(line).map((h) => h.trim().toLowerCase());
      if (!CSV_HEADER.every((h, i) => header![i] === h)) throw new OutcomeImportError(`line 1: the CSV header must start with ${CSV_HEADER.join(',')}`);
      continue;
    }
    const parsed = opts.format === 'csv' ? fromCsv(line, header!) : fromJsonLine(line);
    const point = typeof parsed === 'string' ? parsed : validate(parsed, opts);
    if (typeof point === 'string') reject(lineNo, point);
    else batch.push(point);
    if (batch.length >= batchSize) {
      await flush();
      opts.onProgress?.({ lines: lineNo, bytes });
    }
  }
  await flush();
  opts.onProgress?.({ lines: lineNo, bytes });
  return result;
}

/** A JSON array body, as lines of JSON (line n is element n, 1-based). */
export function* jsonArrayLines(body: unknown): Generator<string> {
  if (!Array.isArray(body)) throw new OutcomeImportError('the JSON body must be an array of { use_case, metric, ts, value }');
  for (const item of body) yield JSON.stringify(item);
}

export class OutcomeImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutcomeImportError';
  }
}

type RawPoint = { use_case?: unknown; metric?: unknown; ts?: unknown; value?: unknown; source?: unknown };

function validate(r: RawPoint, opts: ImportOptions): OutcomePointInput | string {
  if (typeof r.use_case !== 'string' || r.use_case === '') return 'use_case is missing';
  if (!opts.useCases.has(r.use_case)) return `unknown use case "${r.use_case}"`;
  if (typeof r.metric !== 'string' || r.metric === '') return 'metric is missing';
  const ts = parseTimestamp(r.ts);
  if (!ts) return `ts must be ISO 8601 with a time zone, or a date: ${JSON.stringify(r.ts)}`;
  const value = typeof r.value === 'number' && Number.isFinite(r.value) ? String(r.value) : r.value;
  if (typeof value !== 'string' || !DECIMAL.test(value.trim())) return `value must be a decimal number: ${JSON.stringify(r.value)}`;
  const source = typeof r.source === 'string' && r.source !== '' ? r.source : opts.source;
  return { useCaseId: r.use_case, metric: r.metric, ts, value: value.trim(), source };
}

export function parseTimestamp(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (!DATE_ONLY.test(s) && !ISO_WITH_ZONE.test(s)) return null;
  const d = new Date(DATE_ONLY.test(s) ? `${s}T00:00:00Z` : s);
  return Number.isNaN(d.getTime()) ? null : d;
}

function fromJsonLine(line: string): RawPoint | string {
  try {
    const v = JSON.parse(line) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as RawPoint) : 'not a JSON object';
  } catch {
    return 'not valid JSON';
  }
}

function fromCsv(line: string, header: string[]): RawPoint | string {
  const cells = splitCsv(line);
  if (cells.length < CSV_HEADER.length) return `expected ${header.length} columns, got ${cells.length}`;
  const get = (name: string) => {
    const i = header.indexOf(name);
    return i < 0 ? undefined : cells[i]?.trim();
  };
  return { use_case: get('use_case'), metric: get('metric'), ts: get('ts'), value: get('value'), source: get('source') };
}

/** One CSV record on one line (RFC 4180 quoting; a quoted field cannot span lines here). */
export function splitCsv(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { cells.push(cell); cell = ''; }
    else cell += ch;
  }
  cells.push(cell);
  return cells;
}
