import { splitCsv } from '../../analytics/outcome-import.js';
import { SERVICE_TIERS, type ServiceTier } from '../../metering/pricing.js';
import { perMillion, PriceTextError } from './decimal-text.js';
import type { CatalogModels } from './litellm.js';
import type { ParsedPrices, PriceInput } from './types.js';

/**
 * tollgate's own price files, per million tokens as seeds/catalog.json writes them: JSON (`{"prices": [...]}`
 * or an array of rows) or CSV with a header naming the same fields. Rows name catalog models (or aliases).
 */

const REQUIRED = ['model_id', 'input_per_mtok', 'cached_input_per_mtok', 'cache_write_per_mtok', 'output_per_mtok'] as const;

export function parseTollgateJson(text: string, catalog: CatalogModels, source: string): ParsedPrices {
  const doc = JSON.parse(text) as unknown;
  const rows = Array.isArray(doc) ? doc : (doc as { prices?: unknown } | null)?.prices;
  if (!Array.isArray(rows)) throw new PriceTextError('a tollgate price file is {"prices": [...]} or an array of price rows');
  return fromRows(rows.map((r) => stringsOf(r)), catalog, source);
}

export function parseTollgateCsv(text: string, catalog: CatalogModels, source: string): ParsedPrices {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = splitCsv(lines[0] ?? '').map((h) => h.trim());
  const rows = lines.slice(1).map((line) => {
    const cells = splitCsv(line);
    return Object.fromEntries(header.map((h, i) => [h, cells[i]?.trim() ?? '']).filter(([, v]) => v !== ''));
  });
  return fromRows(rows, catalog, source);
}

// JSON numbers in tollgate's files are per-million prices people typed: JSON.parse keeps their value (they have
// few digits); String() of such a number gives the same text back.
function stringsOf(row: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((row ?? {}) as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => [k, String(v)]));
}

function fromRows(rows: Record<string, string>[], catalog: CatalogModels, source: string): ParsedPrices {
  const out: ParsedPrices = { prices: [], notInCatalog: [], skipped: 0, rejected: [] };
  const known = new Set(catalog.models.map((m) => m.id));
  const aliases = new Map(catalog.aliases.map((a) => [a.alias, a.model_id]));
  rows.forEach((row, i) => {
    const label = row.model_id ?? `row ${i + 1}`;
    try {
      const missing = REQUIRED.filter((k) => row[k] === undefined);
      if (missing.length > 0) throw new PriceTextError(`missing ${missing.join(', ')}`);
      const modelId = known.has(row.model_id!) ? row.model_id! : aliases.get(row.model_id!);
      if (modelId === undefined) return void out.notInCatalog.push(row.model_id!);
      out.prices.push(rowOf(modelId, row, source));
    } catch (err) {
      if (!(err instanceof PriceTextError)) throw err;
      out.rejected.push({ key: label, reason: err.message });
    }
  });
  return out;
}

function rowOf(modelId: string, row: Record<string, string>, source: string): PriceInput {
  const tier = (row.service_tier ?? 'standard') as ServiceTier;
  if (!SERVICE_TIERS.includes(tier)) throw new PriceTextError(`unknown service tier ${JSON.stringify(row.service_tier)}`);
  if (row.effective_from !== undefined && Number.isNaN(Date.parse(row.effective_from))) throw new PriceTextError(`not a time: ${row.effective_from}`);
  return {
    model_id: modelId,
    service_tier: tier,
    input_per_mtok: perMillion(row.input_per_mtok!),
    cached_input_per_mtok: perMillion(row.cached_input_per_mtok!),
    cache_write_per_mtok: perMillion(row.cache_write_per_mtok!),
    cache_write_1h_per_mtok: row.cache_write_1h_per_mtok === undefined ? null : perMillion(row.cache_write_1h_per_mtok),
    output_per_mtok: perMillion(row.output_per_mtok!),
    currency: row.currency ?? 'USD',
    source: row.source ?? source,
    ...(row.effective_from !== undefined ? { effective_from: new Date(row.effective_from).toISOString() } : {}),
  };
}
