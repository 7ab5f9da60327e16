import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, PROMO, type Gateway, type Tags } from '../helpers/gateway.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { generateAgentKey } from '../../src/identity/keys.js';

/**
 * Issue 16 item 12: anonymous requests wrote attacker-chosen rows into a BU's decision log and counted as that
 * BU's denials. A denial is attributed only through an authenticated agent, and to what is the agent's own;
 * what a caller claimed is kept apart, in decision_log.claimed.
 */

let gw: Gateway;
let promoKey: string;

beforeAll(async () => {
  gw = await startGateway();
  promoKey = await gw.key('promo-planner');
});
afterAll(async () => gw?.close());

const CHAT = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] });

function chat(credential: string | null, tags: Partial<Tags>, extra: [string, string][] = []): Promise<RawResponse> {
  const headers: [string, string][] = [['content-type', 'application/json'], ...Object.entries(tagHeaders(tags)), ...extra];
  if (credential !== null) headers.push(['authorization', `Bearer ${credential}`]);
  return rawRequest(gw.url, { path: '/openai/v1/chat/completions', headers, body: CHAT });
}

async function decisionRow(res: RawResponse) {
  await gw.flush();
  const rows = await gw.app.tollgate.db('decision_log').where('request_id', String(res.headers['x-tollgate-request-id']));
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

async function marketingDenials(code: string): Promise<number> {
  await gw.flush();
  const [row] = await gw.app.tollgate.db('decisions_hourly').where({ bu_id: 'marketing', code }).sum({ n: 'calls' });
  return Number(row?.n ?? 0);
}

const NOBODY = { bu_id: null, use_case_id: null, agent_id: null, session_id: null };

describe('who a denial is attributed to', () => {
  it('attributes nothing to a BU for a request without a credential, keeping its claims apart', async () => {
    const before = await marketingDenials('missing_credential');
    const res = await chat(null, PROMO, [['x-tollgate-parent-id', 'call-0']]);
    expect(res.status).toBe(401);
    expect(await decisionRow(res)).toMatchObject({
      code: 'missing_credential', ...NOBODY,
      claimed: { bu: 'marketing', use_case: PROMO.use_case, agent_id: PROMO.agent_id, session_id: PROMO.session_id, parent_id: 'call-0' },
    });
    expect(await marketingDenials('missing_credential')).toBe(before);
  });

  it('attributes nothing for an unknown key either, nor for a refusal made before authentication', async () => {
    const unknown = await chat(generateAgentKey().key, PROMO);
    expect(unknown.status).toBe(401);
    expect(await decisionRow(unknown)).toMatchObject({ code: 'invalid_credential', ...NOBODY, claimed: { bu: 'marketing' } });
    const badBody = await rawRequest(gw.url, {
      path: '/openai/v1/chat/completions', headers: [['content-type', 'application/json'], ['authorization', `Bearer ${promoKey}`], ...Object.entries(tagHeaders(PROMO))], body: '{"model":',
    });
    expect(badBody.status).toBe(400);
    expect(await decisionRow(badBody)).toMatchObject({ code: 'invalid_request', ...NOBODY, claimed: { bu: 'marketing' } });
    expect(await marketingDenials('invalid_credential')).toBe(0);
  });

  it('truncates what it stores of an anonymous request: a 12 KB path is logged as its first 256 characters, and no claim', async () => {
    const tail = 'x'.repeat(12_000);
    const res = await rawRequest(gw.url, { path: `/openai/v1/${tail}`, headers: [['content-type', 'application/json'], ...Object.entries(tagHeaders({ ...PROMO, agent_id: 'a b' }))], body: CHAT });
    expect(res.status).toBe(404);
    const row = await decisionRow(res);
    expect(row).toMatchObject({ code: 'unsupported_endpoint', ...NOBODY });
    expect(String(row.endpoint).length).toBeLessThanOrEqual(256);
    expect(row.claimed).toBeNull();
    expect(JSON.stringify(row).length).toBeLessThan(2000);
  });

  it('counts an agent of marketing that claims supply-chain as a marketing denial, not supply-chain\'s', async () => {
    const res = await chat(promoKey, { ...PROMO, bu: 'supply-chain', use_case: 'demand-forecasting' });
    expect(res.status).toBe(403);
    expect(await decisionRow(res)).toMatchObject({
      code: 'agent_bu_mismatch', bu_id: 'marketing', agent_id: 'promo-planner', use_case_id: null, session_id: PROMO.session_id,
      claimed: { bu: 'supply-chain', use_case: 'demand-forecasting' },
    });
    await gw.flush();
    const [supply] = await gw.app.tollgate.db('decisions_hourly').where({ bu_id: 'supply-chain' }).sum({ n: 'calls' });
    expect(Number(supply?.n ?? 0)).toBe(0);
  });

  it('keeps the claimed use case when it is the agent\'s own BU\'s', async () => {
    const res = await chat(promoKey, { ...PROMO, use_case: 'digital-marketing' });
    expect(res.status).toBe(403);
    expect(await decisionRow(res)).toMatchObject({ code: 'use_case_not_allowed', bu_id: 'marketing', use_case_id: 'digital-marketing', agent_id: 'promo-planner' });
  });
});
