import { formatDecimal, sum, type Decimal } from '../../metering/money.js';
import { groupBy, pricedParts, sumOf, type FakePrice, type FakeReportCall } from './reports.js';

/**
 * Anthropic's Admin API messages usage report and cost report results for one daily bucket, per the API
 * reference: usage by any of api_key_id, workspace_id, model (and service tier, context window); costs by
 * workspace_id and description only, with `amount` a decimal string in cents and, under description, the
 * model, cost_type and token_type of each line.
 */

const TOKEN_TYPE = {
  input: 'uncached_input_tokens', cached_input: 'cache_read_input_tokens', cache_write: 'cache_creation.ephemeral_5m_input_tokens',
  cache_write_1h: 'cache_creation.ephemeral_1h_input_tokens', output: 'output_tokens',
} as const;

export function anthropicUsageResults(calls: readonly FakeReportCall[], fields: readonly string[]): object[] {
  const pick = (c: FakeReportCall, f: string) => (f === 'model' ? c.model : f === 'api_key_id' ? c.apiKeyId : f === 'workspace_id' ? c.scopeId : f === 'service_tier' ? 'standard' : f === 'context_window' ? '0-200k' : null);
  return [...groupBy(calls, fields, pick).values()].map(({ values, items }) => ({
    uncached_input_tokens: sumOf(items, (c) => c.input),
    cache_creation: { ephemeral_1h_input_tokens: sumOf(items, (c) => c.cacheWrite1h ?? 0), ephemeral_5m_input_tokens: sumOf(items, (c) => c.cacheWrite) },
    cache_read_input_tokens: sumOf(items, (c) => c.cachedInput),
    output_tokens: sumOf(items, (c) => c.output),
    server_tool_use: { web_search_requests: 0 },
    api_key_id: values.api_key_id ?? null, workspace_id: values.workspace_id ?? null, model: values.model ?? null,
    service_tier: values.service_tier ?? null, context_window: values.context_window ?? null,
  }));
}

export function anthropicCostResults(calls: readonly FakeReportCall[], fields: readonly string[], prices: Readonly<Record<string, FakePrice>>): object[] {
  const lines = calls.flatMap((c) => pricedParts(c, prices[c.model]).map((p) => ({ call: c, tokenType: TOKEN_TYPE[p.kind], usd: p.usd })));
  const byDescription = fields.includes('description');
  const pick = (l: (typeof lines)[number], f: string) => (f === 'workspace_id' ? l.call.scopeId : f === 'description' ? `${l.call.model}|${l.tokenType}` : null);
  return [...groupBy(lines, fields, pick).values()].map(({ values, items }) => {
    const first = items[0]!;
    return {
      currency: 'USD',
      amount: cents(sum(items.map((l) => l.usd))),
      workspace_id: values.workspace_id ?? null,
      description: byDescription ? `${first.call.model} ${first.tokenType.replace(/^cache_creation\./, '')}` : null,
      cost_type: byDescription ? 'tokens' : null,
      context_window: byDescription ? '0-200k' : null,
      model: byDescription ? first.call.model : null,
      service_tier: byDescription ? 'standard' : null,
      token_type: byDescription ? first.tokenType : null,
    };
  });
}

/** USD → the report's decimal string in cents ("123.45" is $1.2345). */
function cents(usd: Decimal): string {
  return formatDecimal(usd.scale >= 2 ? { units: usd.units, scale: usd.scale - 2 } : { units: usd.units * 10n ** BigInt(2 - usd.scale), scale: 0 });
}
