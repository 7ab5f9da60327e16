import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { setBudget, startGateway, PROMO, WRITER, type Gateway, type Tags } from '../helpers/gateway.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import type { ReloadResult } from '../../src/policy/engine.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const COMMITTED_BUNDLE = path.join(ROOT, 'policies/bundle.tar.gz');
const REVISION_2 = 'test-rev-2';
/** Bundle 2 moves the notice threshold from 50% to 40%, so that a decision shows which data it ran on. */
const NOTICE_2 = 0.4;
const EXPERIENCE: Tags = { bu: 'marketing', use_case: 'experience-management', agent_id: 'campaign-writer', session_id: 'sess-cx-1' };

let tmp: string;
let bundle2: Buffer;

/** A second valid bundle, built the way policies/build.mjs builds the committed one, with other data and revision. */
function buildBundle2(): Buffer {
  const stage = path.join(tmp, 'stage');
  const source = path.join(ROOT, 'policies/tollgate');
  fs.cpSync(source, stage, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(source, src);
      return !rel.startsWith('fixtures') && !rel.endsWith('_test.rego');
    },
  });
  const dataFile = path.join(stage, 'config/data.json');
  const data = JSON.parse(fs.readFileSync(dataFile, 'utf8')) as { budget: { tiers: Record<string, number> } };
  data.budget.tiers.notice = NOTICE_2;
  fs.writeFileSync(dataFile, JSON.stringify(data));
  const out = path.join(tmp, 'bundle-2.tar.gz');
  const result = spawnSync(process.env.OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'tollgate/decision', '--revision', REVISION_2, '-o', out, '.'], { cwd: stage, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`opa build failed: ${result.stderr || String(result.error)}`);
  return fs.readFileSync(out);
}

/** Writes beside the target and renames over it, as a deploy would. */
function replaceAtomically(target: string, bytes: Buffer) {
  const temp = `${target}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, bytes);
  fs.renameSync(temp, target);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Every reload the watcher starts, with its result. */
function recordReloads(gw: Gateway): Promise<ReloadResult>[] {
  const engine = gw.app.tollgate.policy;
  const results: Promise<ReloadResult>[] = [];
  const original = engine.reload.bind(engine);
  engine.reload = () => {
    const result = original();
    results.push(result);
    return result;
  };
  return results;
}

/** /readyz, and the revision deciding as /metrics reports it to a scraper (null: none loaded). */
async function readyz(gw: Gateway): Promise<{ status: number; body: { status: string }; revision: string | null }> {
  const res = await fetch(`${gw.url}/readyz`);
  const t = generateApiToken();
  await insertApiToken(gw.app.tollgate.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'metrics' });
  const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${t.token}` } })).text();
  return { status: res.status, body: (await res.json()) as { status: string }, revision: /^tollgate_policy_info\{revision="([^"]+)"\} 1$/m.exec(metrics)?.[1] ?? null };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-policy-reload-'));
  bundle2 = buildBundle2();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('policy hot reload under load', () => {
  let gw: Gateway;
  let watched: string;
  let revision1: string;
  let writerKey: string;
  let promoKey: string;

  beforeAll(async () => {
    watched = path.join(tmp, 'watched', 'bundle.tar.gz');
    fs.mkdirSync(path.dirname(watched));
    fs.copyFileSync(COMMITTED_BUNDLE, watched);
    gw = await startGateway({ TOLLGATE_POLICY_BUNDLE: watched, TOLLGATE_POLICY_WATCH: true });
    revision1 = gw.app.tollgate.policy.revision!;
    writerKey = await gw.key('campaign-writer');
    promoKey = await gw.key('promo-planner');
  });
  afterAll(async () => gw?.close());

  type Outcome = { revision: string | null; requestId: string | null };

  /** One of four call shapes, so that streams and JSON answers, both providers, cross the swap. */
  async function call(i: number): Promise<Outcome> {
    const pick = (r: Response) => ({ revision: r.headers.get('x-tollgate-policy-revision'), requestId: r.headers.get('x-tollgate-request-id') });
    const content = `call ${i}: one line on the spring promotion`;
    switch (i % 4) {
      case 0: {
        const { response } = await gw.openai(writerKey, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content }] }).withResponse();
        return pick(response);
      }
      case 1: {
        const { data, response } = await gw.openai(writerKey, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content }] }).withResponse();
        for await (const _chunk of data);
        return pick(response);
      }
      case 2: {
        const { response } = await gw.anthropic(promoKey, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content }] }).withResponse();
        return pick(response);
      }
      default: {
        const { data, response } = await gw.anthropic(promoKey, PROMO).messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content }] }).withResponse();
        for await (const _event of data);
        return pick(response);
      }
    }
  }

  /** `total` calls, `concurrency` at a time; `atCall(n)` runs once n calls have been started. */
  async function load(total: number, concurrency: number, at: { n: number; run: () => void }) {
    const outcomes: Outcome[] = [];
    const failures: unknown[] = [];
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        if (i === at.n) at.run();
        await call(i).then((o) => outcomes.push(o), (err: unknown) => failures.push(err));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { outcomes, failures };
  }

  /** The tier a call gets at 45% of its budget: ok under the committed thresholds, notice under bundle 2's. */
  async function tierAt45Percent(): Promise<string> {
    await gw.flush();
    const { cost } = (await gw.app.tollgate.db('usage_events').where('use_case_id', EXPERIENCE.use_case)
      .first(gw.app.tollgate.db.raw('coalesce(sum(cost), 0)::text as cost'))) as { cost: string };
    const limit = (Number(cost) / 0.45).toFixed(12);
    // Applied on the replica before the call: else the lease it holds on the old limit may still hold room (budget_busy).
    await setBudget(gw, { scope: 'use_case', scopeId: EXPERIENCE.use_case, limit, unit: 'usd', period: 'month' });
    const { response } = await gw.openai(writerKey, EXPERIENCE).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'a survey question' }] }).withResponse();
    return response.headers.get('x-tollgate-budget-tier')!;
  }

  it('swaps in a new bundle while calls are in flight, without failing one', async () => {
    expect(revision1).toMatch(/^[0-9a-f]{12}$/);
    await gw.openai(writerKey, EXPERIENCE).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'seed spend' }] });
    expect(await tierAt45Percent()).toBe('ok');

    const reloads = recordReloads(gw);
    await gw.flush();
    const rowsBefore = Number((await gw.app.tollgate.db('usage_events').count<{ n: string }[]>('* as n'))[0]!.n);
    const { outcomes, failures } = await load(200, 8, { n: 40, run: () => replaceAtomically(watched, bundle2) });
    expect(failures).toEqual([]);
    expect(outcomes).toHaveLength(200);
    // The swap landed inside the load: calls on both sides of it.
    expect(new Set(outcomes.map((o) => o.revision))).toEqual(new Set([revision1, REVISION_2]));
    expect(reloads.length).toBeGreaterThan(0);
    expect(await reloads.at(-1)).toEqual({ ok: true, revision: REVISION_2 });

    const polled: Outcome[] = [];
    await waitFor('a decision by the new revision', async () => {
      polled.push(await call(polled.length));
      return polled.at(-1)!.revision === REVISION_2 ? true : undefined;
    });
    const all = [...outcomes, ...polled];
    for (const o of all) expect([revision1, REVISION_2]).toContain(o.revision);

    // Each ledger row carries the revision its call was decided by, and every call has exactly one row.
    await gw.flush();
    const rows = await gw.app.tollgate.db('usage_events').whereIn('request_id', all.map((o) => o.requestId!)).select('request_id', 'policy_revision');
    expect(rows).toHaveLength(all.length);
    const byId = new Map(rows.map((r: { request_id: string; policy_revision: string }) => [r.request_id, r.policy_revision]));
    for (const o of all) expect(byId.get(o.requestId!)).toBe(o.revision);
    const rowsAfter = Number((await gw.app.tollgate.db('usage_events').count<{ n: string }[]>('* as n'))[0]!.n);
    expect(rowsAfter - rowsBefore).toBe(all.length);
    expect((await readyz(gw)).revision).toBe(REVISION_2);

    // The new data decides, not just the new revision string.
    expect(await tierAt45Percent()).toBe('notice');
  }, 120_000);

  it.each([
    ['random bytes, renamed into place', () => replaceAtomically(watched, crypto.randomBytes(4096))],
    ['a truncated gzip, written in place', () => fs.writeFileSync(watched, bundle2.subarray(0, bundle2.length >> 1))],
    ['an empty file', () => fs.writeFileSync(watched, Buffer.alloc(0))],
  ])('refuses %s and keeps deciding with the last good revision', async (_name, corrupt) => {
    // Runs after the swap above: the last good revision is bundle 2's.
    await waitFor('bundle 2', () => (gw.app.tollgate.policy.revision === REVISION_2 ? true : undefined));
    const reloads = recordReloads(gw);
    corrupt();
    const result = await waitFor('the watcher to try the corrupt bundle', () => reloads[0]);
    expect(result.ok).toBe(false);
    expect(gw.app.tollgate.policy.revision).toBe(REVISION_2);

    const { outcomes, failures } = await load(16, 4, { n: -1, run: () => {} });
    expect(failures).toEqual([]);
    expect(outcomes.map((o) => o.revision)).toEqual(Array(16).fill(REVISION_2));
    const ready = await readyz(gw);
    expect(ready).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready' }), revision: REVISION_2 });
    await gw.flush();
    const rows = await gw.app.tollgate.db('usage_events').whereIn('request_id', outcomes.map((o) => o.requestId!)).select('policy_revision');
    expect(rows.map((r: { policy_revision: string }) => r.policy_revision)).toEqual(Array(16).fill(REVISION_2));
  });
});

describe('no valid policy', () => {
  let gw: Gateway;
  let missing: string;

  beforeAll(async () => {
    missing = path.join(tmp, 'absent', 'bundle.tar.gz');
    fs.mkdirSync(path.dirname(missing));
    gw = await startGateway({ TOLLGATE_POLICY_BUNDLE: missing, TOLLGATE_POLICY_WATCH: true });
  });
  afterAll(async () => gw?.close());

  async function expectFailsClosed() {
    const ready = await readyz(gw);
    expect(ready.status).toBe(503);
    expect(ready.revision).toBeNull();
    const writerKey = await gw.key('campaign-writer');
    const promoKey = await gw.key('promo-planner');

    const openaiErr = await gw.openai(writerKey, WRITER).chat.completions
      .create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] })
      .then(() => undefined, (e: unknown) => e);
    expect(openaiErr).toBeInstanceOf(OpenAI.APIError);
    const oe = openaiErr as InstanceType<typeof OpenAI.APIError>;
    expect(oe.status).toBe(503);
    expect(oe.error).toEqual({ message: expect.any(String), type: 'server_error', param: null, code: 'policy_unavailable' });

    const anthropicErr = await gw.anthropic(promoKey, PROMO).messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .then(() => undefined, (e: unknown) => e);
    expect(anthropicErr).toBeInstanceOf(Anthropic.APIError);
    const ae = anthropicErr as InstanceType<typeof Anthropic.APIError>;
    expect(ae.status).toBe(503);
    expect(ae.error).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String), code: 'policy_unavailable' } });

    expect(gw.upstream.requests).toHaveLength(0);
    await gw.flush();
    expect(Number((await gw.app.tollgate.db('usage_events').count<{ n: string }[]>('* as n'))[0]!.n)).toBe(0);
    const denials = await gw.app.tollgate.db('decision_log').where('code', 'policy_unavailable');
    expect(denials.length).toBeGreaterThanOrEqual(2);
  }

  it('fails closed with policy_unavailable in each provider\'s error shape, and /readyz 503', async () => {
    expect(gw.app.tollgate.policy.ready).toBe(false);
    await expectFailsClosed();
  });

  it('stays closed on a corrupt bundle, and opens once a valid one appears', async () => {
    const reloads = recordReloads(gw);
    replaceAtomically(missing, crypto.randomBytes(2048));
    expect((await waitFor('the corrupt bundle to be tried', () => reloads[0])).ok).toBe(false);
    await expectFailsClosed();

    replaceAtomically(missing, bundle2);
    await waitFor('the valid bundle', () => (gw.app.tollgate.policy.ready ? true : undefined));
    expect((await readyz(gw)).status).toBe(200);
    const key = await gw.key('campaign-writer');
    const { response } = await gw.openai(key, WRITER).chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('x-tollgate-policy-revision')).toBe(REVISION_2);
  });
});
