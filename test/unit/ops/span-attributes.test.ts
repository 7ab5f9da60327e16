import { describe, expect, it } from 'vitest';
import { allowedCallAttributes, callError, endedCallAttributes, refusedCallAttributes, spanName } from '../../../src/ops/span-attributes.js';
import { anthropic } from '../../../src/providers/anthropic/index.js';
import { openai } from '../../../src/providers/openai/index.js';
import { azure } from '../../../src/providers/azure/index.js';
import { gemini } from '../../../src/providers/gemini/index.js';
import type { AllowedCall, CallOutcome } from '../../../src/gateway/call.js';
import type { DecisionRecord, UsageEvent } from '../../../src/metering/types.js';
import { ZERO_USAGE } from '../../../src/providers/types.js';

const CALL: AllowedCall = {
  requestId: 'req-1', adapter: anthropic, endpoint: '/messages', ts: new Date(0), startedAt: 0n,
  tags: { bu: 'marketing', use_case: 'trade-promo-automation', agent_id: 'promo-planner', session_id: 'sess-1' },
  parentRequestId: null, reserved: true,
  decision: {
    allowed: true, http_status: 200, code: 'soft_cap_downgrade', message: '', tier: 'soft_cap', notify: [], model: 'claude-haiku-4-5',
    max_output_tokens: null, budgets: [], headers: {}, reasons: [],
  },
  revision: 'rev-1', modelRequested: 'claude-sonnet-4-5', modelServed: 'claude-haiku-4-5', bodyText: '{}', requestBody: {}, bodyBytes: 2,
  choices: 1, outputLimit: 256, requestTools: [], injectedUsage: false, estimatedInputTokens: 10, finished: false,
};

const EVENT = {
  input_tokens: 100, cached_input_tokens: 40, cache_write_tokens: 5, output_tokens: 7, cost: '0.000123', currency: 'USD', partial: false,
} as UsageEvent;

const OK: CallOutcome = { status: 200, usage: { ...ZERO_USAGE }, partial: false };

describe('span attributes', () => {
  it('names spans `{operation} {model}`, the provider alone off the served endpoints', () => {
    expect(spanName(openai, '/chat/completions', 'gpt-4.1-mini')).toBe('chat gpt-4.1-mini');
    expect(spanName(openai, '/embeddings', 'text-embedding-3-small')).toBe('embeddings text-embedding-3-small');
    expect(spanName(anthropic, '/messages', null)).toBe('chat');
    expect(spanName(openai, '/files', 'x')).toBe('openai');
  });

  it('an allowed call: the requested model as sent, the served one, the tags, the decision', () => {
    expect(allowedCallAttributes(CALL)).toEqual({
      'gen_ai.provider.name': 'anthropic', 'gen_ai.system': 'anthropic', 'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'claude-sonnet-4-5', 'gen_ai.request.max_tokens': 256, 'gen_ai.conversation.id': 'sess-1',
      'tollgate.request_id': 'req-1', 'tollgate.bu': 'marketing', 'tollgate.use_case': 'trade-promo-automation',
      'tollgate.agent_id': 'promo-planner', 'tollgate.session_id': 'sess-1', 'tollgate.decision_code': 'soft_cap_downgrade',
      'tollgate.budget_tier': 'soft_cap', 'tollgate.policy_revision': 'rev-1', 'tollgate.model_served': 'claude-haiku-4-5',
    });
  });

  it('the end: input tokens count cache reads and writes (the conventions), which are also given apart; cost as a decimal string', () => {
    expect(endedCallAttributes(CALL, { ...OK, model: 'claude-haiku-4-5-20251001' }, { ...EVENT, flags: ['over_bound'] })).toEqual({
      'http.response.status_code': 200, 'gen_ai.response.model': 'claude-haiku-4-5-20251001',
      'gen_ai.usage.input_tokens': 145, 'gen_ai.usage.output_tokens': 7,
      'gen_ai.usage.cache_read.input_tokens': 40, 'gen_ai.usage.cache_creation.input_tokens': 5,
      'tollgate.cost': '0.000123', 'tollgate.currency': 'USD', 'tollgate.partial': false, 'tollgate.flags': ['over_bound'],
    });
  });

  it('an error answer names no response model it did not give; a call that could not be metered keeps its status', () => {
    expect(endedCallAttributes(CALL, { ...OK, status: 529 }, undefined)).toEqual({ 'http.response.status_code': 529 });
    expect(endedCallAttributes(CALL, { ...OK, status: 0 }, undefined)).toEqual({});
  });

  it("names the cloud vendors as the conventions do, with their operations", () => {
    const record = (provider: string, endpoint: string): DecisionRecord => ({
      kind: 'decision', request_id: 'req-3', ts: '', provider, endpoint, bu_id: null, use_case_id: null, agent_id: null, session_id: null,
      model: null, allowed: false, http_status: 429, code: 'budget_exhausted', message: 'no', reasons: [], policy_revision: null, budget_tier: 'hard_cap',
    });
    expect(refusedCallAttributes(azure, record('azure', '/chat/completions'))).toMatchObject({ 'gen_ai.provider.name': 'azure.ai.openai', 'gen_ai.system': 'azure.ai.openai', 'gen_ai.operation.name': 'chat' });
    expect(refusedCallAttributes(gemini, record('gemini', ':streamGenerateContent'))).toMatchObject({ 'gen_ai.provider.name': 'gcp.gemini', 'gen_ai.operation.name': 'generate_content' });
    expect(spanName(gemini, ':generateContent', 'gemini-2.5-flash')).toBe('generate_content gemini-2.5-flash');
  });

  it('errors: 4xx and 5xx answers, and no answer at all', () => {
    expect(callError(OK)).toBeNull();
    expect(callError({ ...OK, status: 499 })).toBe('499');
    expect(callError({ ...OK, status: 0 })).toBe('no_answer');
  });

  it('a refusal before authentication attributes nothing to anyone', () => {
    const record: DecisionRecord = {
      kind: 'decision', request_id: 'req-2', ts: '', provider: 'openai', endpoint: '/chat/completions',
      bu_id: null, use_case_id: null, agent_id: null, session_id: null, model: null, allowed: false, http_status: 401,
      code: 'unauthenticated', message: 'no', reasons: [], policy_revision: null, budget_tier: 'none',
    };
    expect(refusedCallAttributes(openai, record)).toEqual({
      'gen_ai.provider.name': 'openai', 'gen_ai.system': 'openai', 'gen_ai.operation.name': 'chat',
      'http.response.status_code': 401, 'error.type': 'unauthenticated', 'tollgate.request_id': 'req-2',
      'tollgate.endpoint': '/chat/completions', 'tollgate.decision_code': 'unauthenticated', 'tollgate.budget_tier': 'none',
    });
  });
});
