import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGateway, tagHeaders, PROMO, type Gateway, type Tags } from '../helpers/gateway.js';
import { rawBytes, rawRequest, type RawResponse } from '../helpers/raw-http.js';

/**
 * Issue 16 items 2, 3 and 13: every tag and the parent call id are checked at the edge (1 to 128 of
 * A-Z a-z 0-9 _ . : -), the same way in headers and in baggage, before anything is stored or looked up.
 */

let gw: Gateway;
let key: string;

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.key('promo-planner');
});
afterAll(async () => gw?.close());

const CHAT = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] });

function headerLines(tags: Partial<Tags>, extra: [string, string][] = [], credential: string | null = key): [string, string][] {
  const lines: [string, string][] = [['content-type', 'application/json'], ...Object.entries(tagHeaders(tags))];
  if (credential !== null) lines.push(['authorization', `Bearer ${credential}`]);
  return [...lines, ...extra];
}

function chat(lines: [string, string][]): Promise<RawResponse> {
  return rawRequest(gw.url, { path: '/openai/v1/chat/completions', headers: lines, body: CHAT });
}

/** A refusal in OpenAI's shape with tollgate's code, that never echoes the offending value, and never went upstream. */
function expectRefusal(res: RawResponse, code: string, message: RegExp, notEchoed?: string) {
  expect(res.status, res.body).toBe(400);
  const body = res.json() as { error: { code: string; message: string; type: string } };
  expect(body.error).toMatchObject({ code, type: 'invalid_request_error', message: expect.stringMatching(message) });
  expect(res.headers['x-tollgate-error-code']).toBe(code);
  if (notEchoed !== undefined) expect(res.body).not.toContain(notEchoed);
  expect(res.body.length).toBeLessThan(600);
  return body.error.message;
}

async function decisionRow(res: RawResponse) {
  await gw.flush();
  const rows = await gw.app.tollgate.db('decision_log').where('request_id', String(res.headers['x-tollgate-request-id']));
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

async function ledgerRow(res: RawResponse) {
  await gw.flush();
  const rows = await gw.app.tollgate.db('usage_events').where('request_id', String(res.headers['x-tollgate-request-id']));
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

describe('tags at the edge', () => {
  it('refuses an 8 KB random x-tollgate-bu without a credential with 400 invalid_tag, and metering keeps flowing', async () => {
    const huge = crypto.randomBytes(4096).toString('hex');
    const res = await chat(headerLines({ ...PROMO, bu: huge }, [], null));
    expectRefusal(res, 'invalid_tag', /bu \(x-tollgate-bu\).*longer than 128/, huge.slice(100, 140));
    const row = await decisionRow(res);
    expect(row).toMatchObject({ code: 'invalid_tag', bu_id: null });
    expect(JSON.stringify(row)).not.toContain(huge.slice(100, 140));
    const ok = await chat(headerLines(PROMO));
    expect(ok.status, ok.body).toBe(200);
    expect(await ledgerRow(ok)).toMatchObject({ bu_id: 'marketing', status: 200 });
  });

  it('refuses NUL in baggage parent_id with a valid key: never served, never a refused usage row', async () => {
    const upstreamBefore = gw.upstream.requests.length;
    const res = await chat(headerLines(PROMO, [['baggage', 'parent_id=a%00b']]));
    expectRefusal(res, 'invalid_tag', /parent_id \(baggage parent_id\) contains a control character/);
    expect(gw.upstream.requests.length).toBe(upstreamBefore);
    await gw.flush();
    expect(gw.app.tollgate.meter.stats().rejected).toBe(0);
  });

  it('a NUL byte in an anonymous tag silently dropped the decision record: refused, and its denial is in the decision log', async () => {
    const res = await chat(headerLines({ ...PROMO, bu: undefined }, [['baggage', 'bu=mark%00eting']], null));
    expectRefusal(res, 'invalid_tag', /bu \(baggage bu\) contains a control character/);
    expect(await decisionRow(res)).toMatchObject({ code: 'invalid_tag', allowed: false, bu_id: null, agent_id: null });
    expect(gw.app.tollgate.meter.stats().rejected).toBe(0);
  });

  it('refuses NUL in a session id with invalid_tag, not a misleading 503 budget_unavailable', async () => {
    const res = await chat(headerLines({ ...PROMO, session_id: undefined }, [['baggage', 'session_id=s%00x']]));
    expectRefusal(res, 'invalid_tag', /session_id \(baggage session_id\) contains a control character/);
  });

  it('refuses raw UTF-8 in a tag header exactly as the same value in baggage (no mojibake stored)', async () => {
    const fromHeader = await chat(headerLines({ ...PROMO, session_id: rawBytes('sess-été') }));
    const fromBaggage = await chat(headerLines({ ...PROMO, session_id: undefined }, [['baggage', `session_id=${encodeURIComponent('sess-été')}`]]));
    const a = expectRefusal(fromHeader, 'invalid_tag', /session_id \(x-tollgate-session-id\) contains a non-ASCII character/);
    const b = expectRefusal(fromBaggage, 'invalid_tag', /session_id \(baggage session_id\) contains a non-ASCII character/);
    expect(a.replace('x-tollgate-session-id', 'baggage session_id')).toBe(b);
  });

  it('refuses a tag header sent twice with different values (Node would join them as "s-a, s-b")', async () => {
    const res = await chat([...headerLines({ ...PROMO, session_id: undefined }), ['x-tollgate-session-id', 's-a'], ['x-tollgate-session-id', 's-b']]);
    expectRefusal(res, 'conflicting_tag', /session_id.*x-tollgate-session-id.*twice/);
  });

  it('accepts a tag header repeated with the same value, as that one value', async () => {
    const res = await chat([...headerLines({ ...PROMO, session_id: undefined }), ['x-tollgate-session-id', 's-same'], ['x-tollgate-session-id', 's-same']]);
    expect(res.status, res.body).toBe(200);
    expect((await ledgerRow(res)).session_id).toBe('s-same');
  });

  it('refuses a baggage key given twice with different values instead of letting the last one win', async () => {
    const res = await chat(headerLines({ ...PROMO, session_id: undefined }, [['baggage', 'session_id=s-a,vendor=x'], ['baggage', 'session_id=s-b']]));
    expectRefusal(res, 'conflicting_tag', /session_id.*baggage.*twice/);
  });

  it('refuses a baggage header longer than 8192 bytes, whatever it carries', async () => {
    const members = Array.from({ length: 90 }, (_, i) => `vendor${i}=${'v'.repeat(100)}`).join(',');
    const res = await chat(headerLines(PROMO, [['baggage', members]]));
    expectRefusal(res, 'invalid_tag', /baggage header is longer than 8192 bytes/);
  });

  it('refuses a parent id header with a space, and accepts a UUID', async () => {
    expectRefusal(await chat(headerLines(PROMO, [['x-tollgate-parent-id', 'call 1']])), 'invalid_tag', /parent_id \(x-tollgate-parent-id\)/);
    const parent = crypto.randomUUID();
    const res = await chat(headerLines(PROMO, [['x-tollgate-parent-id', parent]]));
    expect(res.status, res.body).toBe(200);
    expect((await ledgerRow(res)).parent_request_id).toBe(parent);
  });

  it('accepts a 128-character tag of the whole alphabet and stores it as sent', async () => {
    const session = `${'Az09_.:-'.repeat(16)}`;
    expect(session).toHaveLength(128);
    const res = await chat(headerLines({ ...PROMO, session_id: session }));
    expect(res.status, res.body).toBe(200);
    expect((await ledgerRow(res)).session_id).toBe(session);
  });

  it('answers a 129-character session id through the Anthropic SDK in Anthropic\'s shape', async () => {
    const client = new Anthropic({ apiKey: key, baseURL: `${gw.url}/anthropic`, maxRetries: 0, defaultHeaders: tagHeaders({ ...PROMO, session_id: 's'.repeat(129) }) });
    const err = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .then(() => expect.fail('expected a 400'), (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_tag', message: expect.stringContaining('session_id') } });
  });

  it('answers a use case with a space through the OpenAI SDK in OpenAI\'s shape', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: tagHeaders({ ...PROMO, use_case: 'trade promo' }) });
    const err = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] })
      .then(() => expect.fail('expected a 400'), (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('invalid_tag');
    expect(err.message).toMatch(/use_case \(x-tollgate-use-case\) contains a character that is not allowed; a tag is 1 to 128 of/);
  });
});
