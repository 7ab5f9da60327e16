import type { Knex } from 'knex';
import { DECISION_ROLLUP_FROM_LOG } from '../rollups.js';

/**
 * decision_log.claimed: the tags (and parent call id) a denied caller claimed, kept for the record. A denial is
 * attributed to a BU, use case, agent or session (bu_id … session_id, which reports and BU owners filter on)
 * only through an authenticated agent; until now those columns held whatever the caller claimed, so anyone
 * without a key could write rows into a BU's decision log and its denial counts.
 *
 * Rows written before this migration whose code says no agent was authenticated (an identity failure, or a
 * refusal made before authentication) have their claims moved to `claimed` (only values a tag may hold today)
 * and their attribution cleared; decisions_hourly is rebuilt from the log to match. ADD COLUMN locks the log,
 * so no writer inserts between the update and the rebuild.
 */
const UNAUTHENTICATED_CODES = [
  'missing_credential', 'invalid_credential', 'revoked_credential', 'identity_unavailable',
  'invalid_request', 'body_too_large', 'unsupported_endpoint', 'method_not_allowed', 'policy_unavailable',
];

const valid = (column: string) => `case when ${column} ~ '^[A-Za-z0-9_.:-]{1,128}$' then ${column} end`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table decision_log add column claimed jsonb');
  await knex.raw(`
    update decision_log
    set claimed = nullif(jsonb_strip_nulls(jsonb_build_object(
          'bu', ${valid('bu_id')}, 'use_case', ${valid('use_case_id')},
          'agent_id', ${valid('agent_id')}, 'session_id', ${valid('session_id')})), '{}'::jsonb),
        bu_id = null, use_case_id = null, agent_id = null, session_id = null
    where code = any(?) and coalesce(bu_id, use_case_id, agent_id, session_id) is not null`, [UNAUTHENTICATED_CODES]);
  await knex.raw('delete from decisions_hourly');
  await knex.raw(DECISION_ROLLUP_FROM_LOG);
}

export async function down(knex: Knex): Promise<void> {
  // The attribution cleared above stays cleared: it was never the caller's to choose.
  await knex.raw('alter table decision_log drop column if exists claimed');
}
