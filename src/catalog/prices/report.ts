import type { PriceVersion } from '../../db/price-book.js';
import type { ImportReport } from './import.js';

/** What `price import` and `price list` print: plain text tables, pure. */

/** The version in force at `at` of each model and tier. */
export function pricesInForce(rows: readonly PriceVersion[], at: Date): PriceVersion[] {
  const latest = new Map<string, PriceVersion>();
  for (const r of rows) {
    if (new Date(r.effective_from).getTime() > at.getTime()) continue;
    const key = `${r.model_id}\u0000${r.service_tier ?? 'standard'}`;
    const seen = latest.get(key);
    if (!seen || new Date(seen.effective_from) < new Date(r.effective_from)) latest.set(key, r);
  }
  return [...latest.values()].sort((a, b) => (a.model_id + (a.service_tier ?? '')).localeCompare(b.model_id + (b.service_tier ?? '')));
}

export function formatPriceTable(rows: readonly PriceVersion[]): string {
  const header = ['model', 'tier', 'from', 'input', 'cached', 'write 5m', 'write 1h', 'output', 'cur', 'source'];
  const body = rows.map((r) => [
    r.model_id, r.service_tier ?? 'standard', new Date(r.effective_from).toISOString(), r.input_per_mtok, r.cached_input_per_mtok,
    r.cache_write_per_mtok, r.cache_write_1h_per_mtok ?? '-', r.output_per_mtok, r.currency, r.source ?? '',
  ].map(String));
  return `${table([header, ...body])}\n(USD per million tokens)`;
}

export function formatImportReport(r: ImportReport): string {
  const count = (s: string) => r.lines.filter((l) => l.status === s).length;
  const out: string[] = [];
  for (const l of r.lines) {
    const what = `${l.price.model_id} (${l.price.service_tier}) from ${l.effectiveFrom}`;
    if (l.status === 'new') out.push(`+ new       ${what}: ${l.price.input_per_mtok} in / ${l.price.output_per_mtok} out`);
    if (l.status === 'changed') out.push(`~ changed   ${what}: ${l.moves.map((m) => `${m.kind.replace('_per_mtok', '')} ${m.from ?? '-'} → ${m.to ?? '-'}${m.percent === null ? '' : ` (${m.percent}%)`}`).join(', ')}`);
    if (l.status === 'refused') out.push(`! refused   ${what}: ${l.reason}`);
  }
  out.push(`${count('new')} new, ${count('changed')} changed, ${count('unchanged')} unchanged, ${count('refused')} refused`);
  if (r.rejected.length > 0) out.push(`rejected (not imported): ${r.rejected.map((x) => `${x.key}: ${x.reason}`).join('; ')}`);
  if (r.notCovered.length > 0) out.push(`catalog models the file does not price: ${r.notCovered.join(', ')}`);
  out.push(`entries of served providers and modes not in the catalog: ${r.notInCatalog.length}; other entries skipped: ${r.skipped}`);
  return out.join('\n');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
