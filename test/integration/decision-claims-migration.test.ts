import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrationSource } from '../../src/db/migrations/index.js';
import { DECISION_ROLLUP_FROM_LOG } from '../../src/db/rollups.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

/**
 * Migration 019a (issue 16 item 12): denials written before it by callers that never authenticated counted
 * against the BU they claimed. Their claims move to decision_log.claimed and the hourly rollup is rebuilt.
 */

const TS = '2026-11-20T10:15:00Z';

function denial(requestId: string, code: string, tags: { bu?: string; use_case?: string; agent_id?: string; session_id?: string }) {
  return {
    request_id: requestId, ts: TS, provider: 'openai', endpoint: '/chat/completions', bu_id: tags.bu ?? null, use_case_id: tags.use_case ?? null,
    agent_id: tags.agent_id ?? null, session_id: tags.session_id ?? null, model: 'gpt-4.1-mini', allowed: false, http_status: 401, code,
    message: code, reasons: JSON.stringify([]), policy_revision: null, budget_tier: 'none',
  };
}

describe('migration 019a: claims of unauthenticated denials leave the attributing columns', () => {
  let t: TestDb;
  beforeEach(async () => {
    t = await createTestDb();
  });
  afterEach(async () => t.drop());

  it('moves them to claimed (valid values only), keeps authenticated denials, and rebuilds decisions_hourly', async () => {
    await t.db.migrate.down({ migrationSource, name: '019a_decision_claims' });
    await t.db('decision_log').insert([
      denial('anon-1', 'missing_credential', { bu: 'marketing', use_case: 'trade-promo', agent_id: 'promo-planner', session_id: 'has space' }),
      denial('anon-2', 'invalid_request', { bu: 'marketing' }),
      denial('anon-3', 'missing_credential', {}),
      denial('auth-1', 'agent_bu_mismatch', { bu: 'marketing', use_case: 'trade-promo', agent_id: 'promo-planner', session_id: 's-1' }),
    ]);
    await t.db.raw(DECISION_ROLLUP_FROM_LOG);
    const before = await t.db('decisions_hourly').where('bu_id', 'marketing').sum({ n: 'calls' }).first();
    expect(Number(before?.n)).toBe(3);

    await t.db.migrate.latest({ migrationSource });
    const rows = await t.db('decision_log').orderBy('request_id').select('request_id', 'bu_id', 'use_case_id', 'agent_id', 'session_id', 'claimed');
    expect(rows).toEqual([
      { request_id: 'anon-1', bu_id: null, use_case_id: null, agent_id: null, session_id: null, claimed: { bu: 'marketing', use_case: 'trade-promo', agent_id: 'promo-planner' } },
      { request_id: 'anon-2', bu_id: null, use_case_id: null, agent_id: null, session_id: null, claimed: { bu: 'marketing' } },
      { request_id: 'anon-3', bu_id: null, use_case_id: null, agent_id: null, session_id: null, claimed: null },
      { request_id: 'auth-1', bu_id: 'marketing', use_case_id: 'trade-promo', agent_id: 'promo-planner', session_id: 's-1', claimed: null },
    ]);
    const hourly = await t.db('decisions_hourly').orderBy(['bu_id', 'code']).select('bu_id', 'code', 'calls');
    expect(hourly.map((h) => [h.bu_id, h.code, Number(h.calls)])).toEqual([['', 'invalid_request', 1], ['', 'missing_credential', 2], ['marketing', 'agent_bu_mismatch', 1]]);

    await t.db.migrate.down({ migrationSource, name: '019a_decision_claims' });
    expect(await t.db.schema.hasColumn('decision_log', 'claimed')).toBe(false);
  });
});
