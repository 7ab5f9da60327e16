import { arrayOf, countOf, decimalText, recordOf, textOf } from './json.js';
import { firstResult, isoDay, queryString, type ReportAdapter } from './adapter.js';
import { ReportError, type CostItem, type ReportKind, type ReportPage, type UsageItem } from './types.js';

/**
 * OpenAI's organization Usage API (completions) and Costs API, read with an admin key. Shapes from the official
 * SDK's types (openai 6.x, resources/admin/organization/usage.d.ts: UsageCompletionsParams, UsageCostsParams and
 * their responses) and the API reference: a page is `{ object: "page", data: [bucket], has_more, next_page }`, a
 * bucket `{ start_time, end_time, results }` in Unix seconds; `input_tokens` includes cached and cache-write
 * tokens; a cost is `amount: { value: <JSON number>, currency: "usd" }`. Costs group by api_key_id, project_id
 * and line_item (not by model): the line item names the model and the token kind, "gpt-4o-2024-08-06, input".
 */

const USAGE_GROUPS = ['model', 'api_key_id', 'project_id'];
const COST_GROUPS = ['api_key_id', 'project_id', 'line_item'];

export const openaiReports: ReportAdapter = {
  provider: 'openai',
  paths: { usage: '/v1/organization/usage/completions', cost: '/v1/organization/costs' },
  headers: (adminKey) => ({ authorization: `Bearer ${adminKey}` }),
  query: (kind, range, limit, page) => queryString({
    start_time: Math.floor(range.from.getTime() / 1000),
    end_time: Math.floor(range.to.getTime() / 1000),
    bucket_width: '1d',
    group_by: kind === 'usage' ? USAGE_GROUPS : COST_GROUPS,
    limit,
    page,
  }),
  readPage,
  kindOf(body) {
    const first = firstResult(body);
    if (first === undefined) return null;
    return first.object === 'organization.costs.result' ? 'cost' : 'usage';
  },
  costsByKey: true,
};

function readPage(kind: ReportKind, body: unknown): ReportPage {
  const page = recordOf(body, 'the page');
  const out: ReportPage = { kind, days: [], usage: [], cost: [], hasMore: page.has_more === true, nextPage: textOf(page.next_page) };
  for (const b of arrayOf(page.data, 'data')) {
    const bucket = recordOf(b, 'a bucket');
    const day = isoDay(new Date(countOf(bucket.start_time, 'start_time') * 1000));
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
  const cachedInput = countOf(r.input_cached_tokens, 'input_cached_tokens');
  const cacheWrite = countOf(r.input_cache_write_tokens, 'input_cache_write_tokens');
  const input = Math.max(0, countOf(r.input_tokens, 'input_tokens') - cachedInput - cacheWrite);
  const output = countOf(r.output_tokens, 'output_tokens');
  return {
    day, apiKeyId: textOf(r.api_key_id), scopeId: textOf(r.project_id), model: textOf(r.model),
    tokens: { input, cachedInput, cacheWrite, output },
    requests: countOf(r.num_model_requests, 'num_model_requests'),
    byType: { input, cached_input: cachedInput, cache_write: cacheWrite, output },
  };
}

function costItem(day: string, r: Record<string, unknown>): CostItem {
  const amount = recordOf(r.amount ?? {}, 'amount');
  const currency = textOf(amount.currency) ?? 'usd';
  if (currency.toLowerCase() !== 'usd') throw new ReportError(`a cost is in ${currency}; tollgate's ledger is in USD`);
  const lineItem = textOf(r.line_item);
  const comma = lineItem?.lastIndexOf(', ') ?? -1;
  return {
    day, apiKeyId: textOf(r.api_key_id), scopeId: textOf(r.project_id),
    model: lineItem !== null && comma > 0 ? lineItem.slice(0, comma) : null,
    label: lineItem ?? 'unspecified',
    tokenType: lineItem !== null && comma > 0 ? lineItem.slice(comma + 2).toLowerCase() : null,
    usd: amount.value === undefined || amount.value === null ? '0' : decimalText(amount.value, 'amount.value'),
  };
}
