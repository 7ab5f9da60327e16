import { describe, expect, it } from 'vitest';
import { headerFilter } from '../../../src/gateway/headers.js';
import { anthropic } from '../../../src/providers/anthropic/index.js';
import { openai } from '../../../src/providers/openai/index.js';

describe('headerFilter', () => {
  it('sends the adapter\'s allowlist, tollgate\'s own headers over the agent\'s, and nothing else', () => {
    const filter = headerFilter(openai.headerRules({ baseUrl: 'http://x', apiKey: 'sk-up', organization: 'org-t' }));
    const { headers, dropped } = filter.request({
      authorization: 'Bearer tg_agent', 'openai-organization': 'org-agent', 'openai-project': 'proj-agent', 'user-agent': 'OpenAI/JS 6',
      'x-stainless-retry-count': '1', 'x-stainless-os': 'Linux', cookie: 'a=b', baggage: 'bu=x', 'x-tollgate-bu': 'x', 'accept-encoding': 'gzip',
    });
    expect(headers).toEqual({ 'user-agent': 'OpenAI/JS 6', 'x-stainless-retry-count': '1', authorization: 'Bearer sk-up', 'openai-organization': 'org-t', 'accept-encoding': 'identity' });
    expect(dropped).toEqual([]);
  });

  it('keeps only the allowed members of a list header, and reports the others', () => {
    const filter = headerFilter(anthropic.headerRules({ baseUrl: 'http://x', apiKey: 'sk-ant', betas: ['a-1', 'b-2'] }));
    expect(filter.request({ 'anthropic-beta': 'a-1, c-3,b-2,,d-4', 'anthropic-version': '2023-06-01' })).toEqual({
      headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'a-1,b-2', 'x-api-key': 'sk-ant', 'accept-encoding': 'identity' },
      dropped: [['anthropic-beta', 'c-3,d-4']],
    });
    expect(filter.request({ 'anthropic-beta': 'c-3' }).headers['anthropic-beta']).toBeUndefined();
  });

  it('passes back only listed answer headers and prefixes', () => {
    const filter = headerFilter(anthropic.headerRules({ baseUrl: 'http://x' }));
    expect(filter.response({
      'content-type': 'application/json', 'request-id': 'req_1', 'anthropic-ratelimit-tokens-remaining': '5', 'retry-after': '3',
      'anthropic-organization-id': 'org', 'set-cookie': ['a=b'], server: 'cloudflare', 'transfer-encoding': 'chunked',
    })).toEqual({ 'content-type': 'application/json', 'request-id': 'req_1', 'anthropic-ratelimit-tokens-remaining': '5', 'retry-after': '3' });
  });
});
