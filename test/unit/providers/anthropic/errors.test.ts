import { describe, expect, it } from 'vitest';
import { anthropic } from '../../../../src/providers/anthropic/index.js';

describe('anthropic error bodies', () => {
  it('use Anthropic\'s shape with tollgate\'s code inside error', () => {
    expect(anthropic.errorBody({ status: 403, code: 'model_not_allowed', message: 'Not allowed.' })).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'Not allowed.', code: 'model_not_allowed' },
    });
  });

  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [405, 'invalid_request_error'],
    [413, 'request_too_large'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [503, 'api_error'],
    [504, 'timeout_error'],
    [529, 'overloaded_error'],
  ])('map status %i to type %s', (status, type) => {
    expect(anthropic.errorBody({ status, code: 'x', message: 'm' })).toMatchObject({ error: { type } });
  });
});
