import { describe, expect, it } from 'vitest';
import { startAnalytics } from './fixtures/analytics.js';

describe('tollgate serve --role', () => {
  it('gateway serves the provider routes and ops, not /graphql nor reports', async () => {
    const h = await startAnalytics('gateway');
    try {
      expect((await h.app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ viewer { role } }' } })).statusCode).toBe(404);
      expect((await h.app.inject({ url: '/v1/reports/chargeback?period=2026-11' })).statusCode).toBe(404);
      expect((await h.app.inject({ method: 'POST', url: '/openai/v1/chat/completions', payload: {} })).statusCode).not.toBe(404);
    } finally {
      await h.close();
    }
  });

  it('all serves both', async () => {
    const h = await startAnalytics('all');
    try {
      const t = await h.token('finance');
      expect((await h.gql(t, '{ viewer { role } }')).body).toEqual({ data: { viewer: { role: 'FINANCE' } } });
      expect((await h.app.inject({ method: 'POST', url: '/openai/v1/chat/completions', payload: {} })).statusCode).not.toBe(404);
    } finally {
      await h.close();
    }
  });
});
