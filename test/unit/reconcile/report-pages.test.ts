import { describe, expect, it } from 'vitest';
import { anthropicReports } from '../../../src/reconcile/anthropic.js';
import { decimalText, parseReportJson } from '../../../src/reconcile/json.js';
import { openaiReports } from '../../../src/reconcile/openai.js';

/** Reading the providers' report pages: shapes of their API references, numbers kept exact. */

describe('report JSON', () => {
  it('keeps every number as its text: float artifacts, exponents and counts past 2^53', () => {
    const body = parseReportJson('{"a": 0.06468000000000001, "b": 1.5e-05, "c": 12345678901234567890, "d": -2E+2}') as Record<string, string>;
    expect(body).toEqual({ a: '0.06468000000000001', b: '1.5e-05', c: '12345678901234567890', d: '-2E+2' });
    expect(decimalText(body.a, 'a')).toBe('0.06468000000000001');
    expect(decimalText(body.b, 'b')).toBe('0.000015');
    expect(decimalText(body.d, 'd')).toBe('-200');
    expect(() => decimalText('12abc', 'x')).toThrow(/x is not a number/);
  });
});

describe('OpenAI organization usage and costs pages', () => {
  // The API reference's example page, with group_by fields filled in.
  const usage = parseReportJson(JSON.stringify({
    object: 'page',
    data: [{ object: 'bucket', start_time: 1730419200, end_time: 1730505600, results: [{
      object: 'organization.usage.completions.result', input_tokens: 1000, output_tokens: 500, input_cached_tokens: 800, input_cache_write_tokens: 50,
      num_model_requests: 5, project_id: 'proj_abc', user_id: null, api_key_id: 'key_abc', model: 'gpt-4o-mini-2024-07-18', batch: null,
    }] }],
    has_more: true, next_page: 'AAAAAGdGxdEiJdKOAAAAAGcqsYA=',
  }));

  it('reads usage into the ledger\'s disjoint kinds (input_tokens include cached and cache-write tokens)', () => {
    expect(openaiReports.kindOf(usage)).toBe('usage');
    const page = openaiReports.readPage('usage', usage);
    expect(page).toMatchObject({ days: ['2024-11-01'], hasMore: true, nextPage: 'AAAAAGdGxdEiJdKOAAAAAGcqsYA=' });
    expect(page.usage).toEqual([{
      day: '2024-11-01', apiKeyId: 'key_abc', scopeId: 'proj_abc', model: 'gpt-4o-mini-2024-07-18',
      tokens: { input: 150, cachedInput: 800, cacheWrite: 50, output: 500 }, requests: 5,
      byType: { input: 150, cached_input: 800, cache_write: 50, output: 500 },
    }]);
  });

  it('reads costs exactly, with the model from the line item', () => {
    const body = parseReportJson('{"object":"page","data":[{"object":"bucket","start_time":1730419200,"end_time":1730505600,"results":['
      + '{"object":"organization.costs.result","amount":{"value":0.06468000000000001,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, input","project_id":"proj_abc","api_key_id":"key_abc"},'
      + '{"object":"organization.costs.result","amount":{"value":0.06,"currency":"usd"},"line_item":"Image models","project_id":null}]}],"has_more":false,"next_page":null}');
    expect(openaiReports.kindOf(body)).toBe('cost');
    expect(openaiReports.readPage('cost', body).cost).toEqual([
      { day: '2024-11-01', apiKeyId: 'key_abc', scopeId: 'proj_abc', model: 'gpt-4o-2024-08-06', label: 'gpt-4o-2024-08-06, input', tokenType: 'input', usd: '0.06468000000000001' },
      { day: '2024-11-01', apiKeyId: null, scopeId: null, model: null, label: 'Image models', tokenType: null, usd: '0.06' },
    ]);
    const eur = parseReportJson('{"data":[{"start_time":1730419200,"results":[{"object":"organization.costs.result","amount":{"value":1,"currency":"eur"}}]}]}');
    expect(() => openaiReports.readPage('cost', eur)).toThrow(/in eur; tollgate's ledger is in USD/);
  });

  it('asks as the official SDK does: Unix seconds, daily buckets, group_by[] repeated', () => {
    const q = new URLSearchParams(openaiReports.query('cost', { from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-06-03T00:00:00Z') }, 7, 'abc'));
    expect([...q]).toEqual([['start_time', '1780272000'], ['end_time', '1780444800'], ['bucket_width', '1d'], ['group_by[]', 'api_key_id'], ['group_by[]', 'project_id'], ['group_by[]', 'line_item'], ['limit', '7'], ['page', 'abc']]);
  });
});

describe('Anthropic usage and cost report pages', () => {
  it('reads usage with 5-minute and 1-hour cache writes, per key and workspace', () => {
    const body = parseReportJson(JSON.stringify({ data: [{ starting_at: '2025-08-01T00:00:00Z', ending_at: '2025-08-02T00:00:00Z', results: [{
      uncached_input_tokens: 1500, cache_creation: { ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 500 }, cache_read_input_tokens: 200,
      output_tokens: 500, server_tool_use: { web_search_requests: 10 }, api_key_id: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
      workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', model: 'claude-sonnet-4-20250514', service_tier: 'standard', context_window: '0-200k',
    }] }], has_more: false, next_page: null }));
    expect(anthropicReports.kindOf(body)).toBe('usage');
    const [item] = anthropicReports.readPage('usage', body).usage;
    expect(item).toMatchObject({ day: '2025-08-01', apiKeyId: 'apikey_01Rj2N8SVvo6BePZj99NhmiT', scopeId: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', tokens: { input: 1500, cachedInput: 200, cacheWrite: 1500, output: 500 } });
    expect(item!.byType['cache_creation.ephemeral_1h_input_tokens']).toBe(1000);
  });

  it('reads a cost amount in cents as dollars, exactly ("123.45" is $1.2345)', () => {
    const body = parseReportJson(JSON.stringify({ data: [{ starting_at: '2025-08-01T00:00:00Z', ending_at: '2025-08-02T00:00:00Z', results: [
      { amount: '123.45', currency: 'USD', workspace_id: null, description: 'Claude Sonnet 4 Usage - Input Tokens', cost_type: 'tokens', model: 'claude-sonnet-4-20250514', token_type: 'uncached_input_tokens', service_tier: 'standard', context_window: '0-200k' },
      { amount: '7', currency: 'USD', workspace_id: 'wrkspc_1', description: 'Web Search Usage', cost_type: 'web_search', model: null, token_type: null },
    ] }], has_more: true, next_page: 'page_MjAyNS0wNS0xNFQwMDowMDowMFo=' }));
    const page = anthropicReports.readPage('cost', body);
    expect(page.cost.map((c) => [c.model, c.label, c.tokenType, c.usd, c.apiKeyId])).toEqual([
      ['claude-sonnet-4-20250514', 'Claude Sonnet 4 Usage - Input Tokens', 'uncached_input_tokens', '1.2345', null],
      [null, 'Web Search Usage', null, '0.07', null],
    ]);
    expect(page.nextPage).toBe('page_MjAyNS0wNS0xNFQwMDowMDowMFo=');
  });

  it('asks with RFC 3339 bounds and sends the admin key with anthropic-version', () => {
    const q = anthropicReports.query('usage', { from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-06-02T00:00:00Z') }, 31, null);
    expect(q).toBe('starting_at=2026-06-01T00%3A00%3A00.000Z&ending_at=2026-06-02T00%3A00%3A00.000Z&bucket_width=1d&group_by%5B%5D=api_key_id&group_by%5B%5D=workspace_id&group_by%5B%5D=model&limit=31');
    expect(anthropicReports.headers('sk-ant-admin01-x')).toEqual({ 'x-api-key': 'sk-ant-admin01-x', 'anthropic-version': '2023-06-01' });
  });
});
