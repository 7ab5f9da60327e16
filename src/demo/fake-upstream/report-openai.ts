import { LosslessNumber } from 'lossless-json';
import { formatDecimal, sum } from '../../metering/money.js';
import { groupBy, pricedParts, sumOf, type FakePrice, type FakeReportCall } from './reports.js';

/**
 * OpenAI's organization Usage (completions) and Costs results for one daily bucket, as the API reference and
 * the official SDK's types describe them (resources/admin/organization/usage.d.ts): usage `input_tokens`
 * include cached and cache-write tokens; costs are `amount: { value: <number>, currency: "usd" }` per
 * `line_item` ("<model>, <kind>"), grouped by any of api_key_id, project_id, line_item.
 */

const LINE_KIND = { input: 'input', cached_input: 'cached input', cache_write: 'cache write', cache_write_1h: 'cache write', output: 'output' } as const;

export function openaiUsageResults(calls: readonly FakeReportCall[], fields: readonly string[]): object[] {
  const pick = (c: FakeReportCall, f: string) => (f === 'model' ? c.model : f === 'api_key_id' ? c.apiKeyId : f === 'project_id' ? c.scopeId : null);
  return [...groupBy(calls, fields, pick).values()].map(({ values, items }) => ({
    object: 'organization.usage.completions.result',
    input_tokens: sumOf(items, (c) => c.input + c.cachedInput + c.cacheWrite),
    output_tokens: sumOf(items, (c) => c.output),
    input_cached_tokens: sumOf(items, (c) => c.cachedInput),
    input_cache_write_tokens: sumOf(items, (c) => c.cacheWrite),
    input_audio_tokens: 0,
    output_audio_tokens: 0,
    num_model_requests: sumOf(items, (c) => c.requests),
    project_id: values.project_id ?? null, user_id: null, api_key_id: values.api_key_id ?? null, model: values.model ?? null, batch: null, service_tier: null,
  }));
}

export function openaiCostResults(calls: readonly FakeReportCall[], fields: readonly string[], prices: Readonly<Record<string, FakePrice>>): object[] {
  const lines = calls.flatMap((c) => pricedParts(c, prices[c.model]).map((p) => ({ call: c, lineItem: `${c.model}, ${LINE_KIND[p.kind]}`, usd: p.usd })));
  const pick = (l: (typeof lines)[number], f: string) => (f === 'line_item' ? l.lineItem : f === 'api_key_id' ? l.call.apiKeyId : f === 'project_id' ? l.call.scopeId : null);
  return [...groupBy(lines, fields, pick).values()].map(({ values, items }) => ({
    object: 'organization.costs.result',
    // A JSON number, written from the exact decimal (lossless-json), as the API sends a float.
    amount: { value: new LosslessNumber(formatDecimal(sum(items.map((l) => l.usd)))), currency: 'usd' },
    line_item: values.line_item ?? null, project_id: values.project_id ?? null, api_key_id: values.api_key_id ?? null,
    quantity: null,
  }));
}
