import { describe, expect, it } from 'vitest';
import { openai } from '../../../../src/providers/openai/index.js';

describe('openai error bodies', () => {
  it('use OpenAI\'s shape with tollgate\'s code', () => {
    expect(openai.errorBody({ status: 429, code: 'budget_exhausted', message: 'Budget exhausted.' })).toEqual({
      error: { message: 'Budget exhausted.', type: 'rate_limit_error', param: null, code: 'budget_exhausted' },
    });
  });

  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [405, 'invalid_request_error'],
    [413, 'invalid_request_error'],
    [429, 'rate_limit_error'],
    [500, 'server_error'],
    [502, 'server_error'],
    [503, 'server_error'],
  ])('map status %i to type %s', (status, type) => {
    expect(openai.errorBody({ status, code: 'x', message: 'm' })).toMatchObject({ error: { type } });
  });

  it('keep an explicit type', () => {
    expect(openai.errorBody({ status: 400, code: 'x', message: 'm', type: 'custom' })).toMatchObject({ error: { type: 'custom' } });
  });
});
