import { formatDecimal } from '../metering/money.js';
import { arrayOf, countOf, decimalOf, recordOf, textOf } from './json.js';
import { firstResult, isoDay, queryString, type ReportAdapter } from './adapter.js';
import { ReportError, type CostItem, type ReportKind, type ReportPage, type UsageItem } from './types.js';

/**
 * Anthropic's Admin API usage and cost reports (GET /v1/organizations/usage_report/messages and
 * /v1/organizations/cost_report, x-api-key with an admin key and anthropic-version 2023-06-01). Shapes from the
 * API reference (Admin › Usage Report, Cost Report) and the Usage and Cost API guide: a page is
 * `{ data: [{ starting_at, ending_at, results }], has_more, next_page }` with RFC 3339 bucket bounds; a usage
 * result has uncached_input_tokens, cache_read_input_tokens, cache_creation.{ephemeral_5m,ephemeral_1h}_input_tokens
 * and output_tokens; a cost result's `amount` is a decimal string in cents ("123.45" is $1.2345). The cost report
 * groups only by workspace_id and description (model, token_type, cost_type…), never by API key, so merge.ts
 * splits each cost over the keys whose usage it prices.
 */

const USAGE_GROUPS = ['api_key_id', 'workspace_id', 'model'];
const COST_GROUPS = ['workspace_id', 'description'];
export const ANTHROPIC_VERSION = '2023-06-01';

export const anthropicReports: ReportAdapter = {
  provider: 'anthropic',
  paths: { usage: '/v1/organizations/usage_report/messages', cost: '/v1/organizations/cost_report' },
  headers: (adminKey) => ({ 'x-api-key': adminKey, 'anthropic-version': ANTHROPIC_VERSION }),
  query: (_kind, range, limit, page) => queryString({
    starting_at: range.from.toISOString(),
    ending_at: range.to.toISOString(),
    bucket_width: '1d',
    group_by: _kind === 'usage' ? USAGE_GROUPS : COST_GROUPS,
    limit,
    page,
  }),
  readPage,
  kindOf(body) {
    const first = firstResult(body);
    if (first === undefined) return null;
    return 'amount' in first ? 'cost' : 'usage';
  },
  costsByKey: false,
};

function readPage(kind: ReportKind, body: unknown): ReportPage {
  const page = recordOf(body, 'the page');
  const out: ReportPage = { kind, days: [], usage: [], cost: [], hasMore: page.has_more === true, nextPage: textOf(page.next_page) };
  for (const b of arrayOf(page.data, 'data')) {
    const bucket = recordOf(b, 'a bucket');
    const start = new Date(String(bucket.starting_at));
    if (Number.isNaN(start.getTime())) throw new ReportError(`a bucket starts at ${JSON.stringify(bucket.starting_at)}, not an RFC 3339 time`);
    const day = isoDay(start);
    out.days.push(day);
    for (const r of arrayOf(bucket.results ?? [], 'results')) {
      const result = recordOf(r, 'a result');
      if (kind === 'usage') out.usage.push(usageItem(day, result));
      else out.cost.push(costItem(day, result));
    }
  }
  return out;
}

function usageItem(day: string, r: Record<string, unknown>): UsageItem {
  const creation = recordOf(r.cache_creation ?? {}, 'cache_creation');
  const byType = {
    uncached_input_tokens: countOf(r.uncached_input_tokens, 'uncached_input_tokens'),
    cache_read_input_tokens: countOf(r.cache_read_input_tokens, 'cache_read_input_tokens'),
    'cache_creation.ephemeral_5m_input_tokens': countOf(creation.ephemeral_5m_input_tokens, 'ephemeral_5m_input_tokens'),
    'cache_creation.ephemeral_1h_input_tokens': countOf(creation.ephemeral_1h_input_tokens, 'ephemeral_1h_input_tokens'),
    output_tokens: countOf(r.output_tokens, 'output_tokens'),
  };
  return {
    day, apiKeyId: textOf(r.api_key_id), scopeId: textOf(r.workspace_id), model: textOf(r.model),
    tokens: {
      input: byType.uncached_input_tokens,
      cachedInput: byType.cache_read_input_tokens,
      cacheWrite: byType['cache_creation.ephemeral_5m_input_tokens'] + byType['cache_creation.ephemeral_1h_input_tokens'],
      output: byType.output_tokens,
    },
    // The messages usage report counts tokens, not requests.
    requests: 0,
    byType,
  };
}

function costItem(day: string, r: Record<string, unknown>): CostItem {
  const currency = textOf(r.currency) ?? 'USD';
  if (currency.toUpperCase() !== 'USD') throw new ReportError(`a cost is in ${currency}; tollgate's ledger is in USD`);
  const cents = decimalOf(r.amount ?? '0', 'amount');
  const model = textOf(r.model);
  return {
    day, apiKeyId: null, scopeId: textOf(r.workspace_id), model,
    label: textOf(r.description) ?? textOf(r.cost_type) ?? 'unspecified',
    tokenType: model === null ? null : textOf(r.token_type),
    usd: formatDecimal({ units: cents.units, scale: cents.scale + 2 }),
  };
}
