import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TollgateError } from '../../../src/errors.js';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { ENTRYPOINT, PolicyEngine, directEvaluator, isDecision, type EngineOptions } from '../../../src/policy/engine.js';
import { readBundle } from '../../../src/policy/bundle.js';
import { BUNDLE, fixtureInput, fixtures, pack, recordingLog, unpack, variant } from './support.js';
import type { PolicyInput } from '../../../src/policy/types.js';

const HAS_OPA = spawnSync('opa', ['version']).status === 0;
const FAST: EngineOptions = { pollIntervalMs: 40, debounceMs: 20 };
const WAIT = { timeout: 10_000, interval: 20 };
const COMMITTED = readFileSync(BUNDLE);
const COMMITTED_REVISION = JSON.parse((await unpack(COMMITTED)).get('.manifest')!.toString()).revision as string;

// Budget state unavailable: the committed bundle fails closed (503); the "open" variant allows the call.
const BUDGET_AWAY = { ...structuredClone(fixtures.base), budget_state: { available: false } } as unknown as PolicyInput;
const failOpen = (revision: string) =>
  variant(revision, (data) => {
    ((data.config as Record<string, Record<string, unknown>>).budget!).when_unavailable = { default: 'open', use_cases: {} };
  });

let dir: string;
let path: string;
let engine: PolicyEngine | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-engine-'));
  path = join(dir, 'bundle.tar.gz');
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces the bundle the way a deploy does: write beside it, then rename over it. */
function replaceAtomically(bytes: Buffer): void {
  writeFileSync(`${path}.next`, bytes);
  renameSync(`${path}.next`, path);
}

async function start(options: EngineOptions = {}): Promise<PolicyEngine> {
  engine = await PolicyEngine.fromFile(path, { ...FAST, ...options });
  return engine;
}

describe('PolicyEngine loading', () => {
  it('serves the committed bundle with its revision', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start();
    expect(e.ready).toBe(true);
    expect(e.revision).toBe(COMMITTED_REVISION);
    const evaluation = e.evaluate(fixtures.base as unknown as PolicyInput);
    expect(evaluation.revision).toBe(COMMITTED_REVISION);
    expect(evaluation.decision.code).toBe('ok');
    expect(evaluation.micros).toBeGreaterThan(0);
  });

  it('fails closed with policy_unavailable when there is no bundle', async () => {
    const e = await start();
    expect(e.ready).toBe(false);
    expect(e.revision).toBeNull();
    let thrown: unknown;
    try {
      e.evaluate(fixtures.base as unknown as PolicyInput);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TollgateError);
    expect((thrown as TollgateError).code).toBe('policy_unavailable');
    expect((thrown as TollgateError).status).toBe(503);
  });

  it('becomes ready when a good bundle appears later', async () => {
    const log = recordingLog();
    const e = await start({ watch: true, log });
    expect(e.ready).toBe(false);
    expect(log.lines.some((l) => l.level === 'error' && /failing closed/.test(l.msg))).toBe(true);

    replaceAtomically(COMMITTED);
    await vi.waitFor(() => expect(e.ready).toBe(true), WAIT);
    expect(e.evaluate(fixtures.base as unknown as PolicyInput).revision).toBe(COMMITTED_REVISION);
  });
});

describe('PolicyEngine.evaluateSoon', () => {
  const base = fixtures.base as unknown as PolicyInput;

  it('evaluates the calls asked during one turn of the event loop together after it, each its own decision, in order', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start();
    const evaluate = vi.spyOn(e, 'evaluate');
    const seen: string[] = [];
    const asked = [base, BUDGET_AWAY, base].map((input, i) => e.evaluateSoon(input).then((evaluation) => {
      seen.push(`call ${i}`);
      return evaluation;
    }));
    setImmediate(() => seen.push('next turn'));
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(evaluate).not.toHaveBeenCalled(); // not before the turn's other callbacks ran, nor in its microtasks
    const evaluations = await Promise.all(asked);
    expect(evaluate).toHaveBeenCalledTimes(3);
    evaluate.mockRestore();
    await yieldToLoop();
    expect(seen).toEqual(['call 0', 'call 1', 'call 2', 'next turn']);
    expect(evaluations.map((ev) => ev.decision.code)).toEqual(['ok', 'budget_unavailable', 'ok']);
    expect(evaluations.map((ev) => ev.decision)).toEqual([base, BUDGET_AWAY, base].map((input) => e.evaluate(input).decision));
    expect(evaluations.every((ev) => ev.revision === COMMITTED_REVISION && ev.micros > 0)).toBe(true);
  });

  it('rejects only the call whose evaluation fails; the others of its turn get their decisions', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start();
    // An input the policy cannot be given (JSON has no bigint): its evaluation throws.
    const unreadable = { ...structuredClone(fixtures.base), estimate: { input_tokens: 1n } } as unknown as PolicyInput;
    const results = await Promise.allSettled([e.evaluateSoon(base), e.evaluateSoon(unreadable), e.evaluateSoon(base)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (results[1] as PromiseRejectedResult).reason as TollgateError;
    expect(reason).toBeInstanceOf(TollgateError);
    expect(reason.code).toBe('internal_error');
    expect((results[2] as PromiseFulfilledResult<{ decision: { code: string } }>).value.decision.code).toBe('ok');
  });

  it('rejects with policy_unavailable while no bundle is loaded, and answers once one is', async () => {
    const e = await start();
    await expect(e.evaluateSoon(base)).rejects.toMatchObject({ code: 'policy_unavailable', status: 503 });
    copyFileSync(BUNDLE, path);
    await e.reload();
    expect((await e.evaluateSoon(base)).decision.code).toBe('ok');
  });
});

describe('PolicyEngine hot swap', () => {
  it('reload() swaps in a new revision and its data', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start();
    expect(e.evaluate(BUDGET_AWAY).decision.code).toBe('budget_unavailable');

    writeFileSync(path, await failOpen('next-rev'));
    await expect(e.reload()).resolves.toEqual({ ok: true, revision: 'next-rev' });
    const after = e.evaluate(BUDGET_AWAY);
    expect(after.revision).toBe('next-rev');
    expect(after.decision).toMatchObject({ allowed: true, tier: 'unknown' });
  });

  it('picks up a renamed-in bundle while evaluate runs in a tight loop, never mixing revisions', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start({ watch: true });
    const seen: string[] = [];
    const expectedCode: Record<string, string> = { [COMMITTED_REVISION]: 'budget_unavailable', 'hot-rev': 'ok' };
    let replaced = false;

    const deadline = Date.now() + 10_000;
    while (seen.at(-1) !== 'hot-rev' && Date.now() < deadline) {
      for (let i = 0; i < 200; i++) {
        const { revision, decision } = e.evaluate(BUDGET_AWAY);
        // The decision must come from the policy the revision names: no half-swapped state.
        expect(decision.code).toBe(expectedCode[revision]);
        if (seen.at(-1) !== revision) seen.push(revision);
      }
      if (!replaced) {
        replaceAtomically(await failOpen('hot-rev'));
        replaced = true;
      }
      await yieldToLoop();
    }
    expect(seen).toEqual([COMMITTED_REVISION, 'hot-rev']);
  });

  it('picks up a bundle overwritten in place', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start({ watch: true });
    writeFileSync(path, await variant('in-place'));
    await vi.waitFor(() => expect(e.revision).toBe('in-place'), WAIT);
  });
});

describe('PolicyEngine refuses broken bundles and keeps serving', () => {
  const broken: [string, () => Promise<Buffer>, RegExp][] = [
    ['random bytes', async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)), /not a valid \.tar\.gz/],
    ['a truncated gzip', async () => COMMITTED.subarray(0, Math.floor(COMMITTED.length / 2)), /not a valid \.tar\.gz/],
    ['gzip of something that is not a tar', async () => gzipSync(Buffer.alloc(2048, 'x')), /not a valid tar archive/],
    ['a tar without policy.wasm', () => without('policy.wasm'), /no policy\.wasm/],
    ['a tar without data.json', () => without('data.json'), /no data\.json/],
    ['a tar without .manifest', () => without('.manifest'), /no \.manifest/],
    ['a manifest without a revision', () => edited('.manifest', '{"roots":[""]}'), /no revision/],
    ['data.json that is not JSON', () => edited('data.json', '{"config":'), /invalid data\.json/],
    ['data.json that is not an object', () => edited('data.json', '[]'), /not an object/],
    ['policy.wasm that is not WebAssembly', () => edited('policy.wasm', 'not wasm'), /invalid policy\.wasm/],
  ];

  it.each(broken)('refuses %s on reload()', async (_name, make, message) => {
    copyFileSync(BUNDLE, path);
    const log = recordingLog();
    const e = await start({ log });
    writeFileSync(path, await make());

    const result = await e.reload();
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.message).toMatch(message);
    expect(e.revision).toBe(COMMITTED_REVISION);
    expect(e.evaluate(fixtures.base as unknown as PolicyInput)).toMatchObject({ revision: COMMITTED_REVISION, decision: { code: 'ok' } });
    expect(log.lines.at(-1)).toMatchObject({ level: 'error', msg: `policy bundle refused; revision ${COMMITTED_REVISION} keeps serving` });
  });

  it.skipIf(!HAS_OPA)('refuses a policy whose decision is malformed', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start();
    writeFileSync(path, opaBuild('package tollgate\n\ndecision := {"allowed": "yes"}\n', 'tollgate/decision'));
    const result = await e.reload();
    expect(!result.ok && result.error.message).toMatch(/returned no well-formed decision/);
    expect(e.revision).toBe(COMMITTED_REVISION);
  });

  it.skipIf(!HAS_OPA)('refuses a policy built for another entrypoint', async () => {
    copyFileSync(BUNDLE, path);
    const e = await start();
    writeFileSync(path, opaBuild('package other\n\nallow := true\n', 'other/allow'));
    const result = await e.reload();
    expect(!result.ok && result.error.message).toMatch(/no tollgate\/decision entrypoint/);
    expect(e.revision).toBe(COMMITTED_REVISION);
  });

  it('refuses a corrupt bundle dropped in while watching, then takes the next good one', async () => {
    copyFileSync(BUNDLE, path);
    const log = recordingLog();
    const e = await start({ watch: true, log });
    replaceAtomically(await without('policy.wasm'));
    await vi.waitFor(() => expect(log.lines.some((l) => l.level === 'error')).toBe(true), WAIT);
    expect(e.revision).toBe(COMMITTED_REVISION);
    expect(e.evaluate(fixtures.base as unknown as PolicyInput).decision.code).toBe('ok');

    replaceAtomically(await variant('after-corrupt'));
    await vi.waitFor(() => expect(e.revision).toBe('after-corrupt'), WAIT);
  });

  it('keeps serving when the bundle file is deleted', async () => {
    copyFileSync(BUNDLE, path);
    const log = recordingLog();
    const e = await start({ watch: true, log });
    rmSync(path);
    await vi.waitFor(() => expect(log.lines.some((l) => l.level === 'warn')).toBe(true), WAIT);
    expect(e.ready).toBe(true);
    expect(e.evaluate(fixtures.base as unknown as PolicyInput).revision).toBe(COMMITTED_REVISION);
  });
});

/** Compiles `rego` with the real opa CLI into a wasm bundle. */
function opaBuild(rego: string, entrypoint: string): Buffer {
  const src = mkdtempSync(join(tmpdir(), 'tollgate-rego-'));
  try {
    writeFileSync(join(src, 'policy.rego'), rego);
    const out = join(src, 'bundle.tar.gz');
    const result = spawnSync('opa', ['build', '-t', 'wasm', '-e', entrypoint, '--revision', 'bad', '-o', out, 'policy.rego'], { cwd: src, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return readFileSync(out);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

async function without(name: string): Promise<Buffer> {
  const files = await unpack(COMMITTED);
  files.delete(name);
  return pack(files);
}

async function edited(name: string, content: string): Promise<Buffer> {
  const files = await unpack(COMMITTED);
  files.set(name, Buffer.from(content));
  return pack(files);
}

describe('isDecision', () => {
  const good = async () => {
    copyFileSync(BUNDLE, path);
    return (await start()).evaluate(fixtures.base as unknown as PolicyInput).decision;
  };

  it('accepts what the committed policy returns, clamp and budgets included', async () => {
    const decision = await good();
    expect(isDecision(decision)).toBe(true);
    expect(isDecision({ ...decision, max_output_tokens: 305, budgets: [{ id: 1, scope: 'bu', tier: 'warning', ratio: 0.84 }] })).toBe(true);
    expect(isDecision({ ...decision, budgets: [{ id: 1, scope: 'use_case', tier: 'hard_cap', ratio: null }] })).toBe(true);
  });

  it.each([
    ['no max_output_tokens', { max_output_tokens: undefined }],
    ['a clamp below one token', { max_output_tokens: 0 }],
    ['a fractional clamp', { max_output_tokens: 10.5 }],
    ['no budgets', { budgets: undefined }],
    ['a budget of an unknown scope', { budgets: [{ id: 1, scope: 'team', tier: 'ok', ratio: 0.1 }] }],
    ['a budget with an unknown tier', { budgets: [{ id: 1, scope: 'bu', tier: 'amber', ratio: 0.1 }] }],
    ['a budget with a string ratio', { budgets: [{ id: 1, scope: 'bu', tier: 'ok', ratio: '0.1' }] }],
  ])('refuses a decision with %s', async (_name, change) => {
    expect(isDecision({ ...(await good()), ...change })).toBe(false);
  });
});

describe('directEvaluator', () => {
  const load = async () => {
    const bundle = await readBundle(BUNDLE);
    const policy = await loadPolicy(bundle.wasm);
    policy.setData(bundle.data as object);
    return policy;
  };
  const memoryOf = (policy: object) => (policy as { mem: { buffer: ArrayBuffer } }).mem.buffer.byteLength;

  it('answers every shared fixture exactly as opa-wasm\'s evaluate does', async () => {
    const policy = await load();
    const direct = directEvaluator(policy, policy.entrypoints[ENTRYPOINT]!);
    expect(direct).not.toBeNull();
    for (const c of fixtures.cases) {
      const input = fixtureInput(c);
      expect(direct!(input), c.name).toEqual(policy.evaluate(input, ENTRYPOINT));
    }
  });

  it('carries text outside ASCII both ways, and an input larger than the policy\'s memory, which it grows', async () => {
    const policy = await load();
    const direct = directEvaluator(policy, policy.entrypoints[ENTRYPOINT]!)!;
    const before = memoryOf(policy);
    const base = fixtureInput(fixtures.cases[0]!);
    // A missing BU tag and a long session id outside ASCII: the denial's message and the input both carry it.
    const input = { ...base, tags: { ...base.tags, bu: undefined, session_id: `séance-会話-🚀-${'x'.repeat(2_000_000)}` } } as PolicyInput;
    const result = direct(input) as [{ result: { code: string } }];
    expect(result).toEqual(policy.evaluate(input, ENTRYPOINT));
    expect(result[0].result.code).toBe('missing_tag');
    expect(memoryOf(policy)).toBeGreaterThan(before + 2_000_000);
    // A smaller input after it is read whole and alone: nothing of the long one is left over.
    expect(direct(base)).toEqual(policy.evaluate(base, ENTRYPOINT));
  });

  it('is null when the loaded policy lacks what it reads, so that the engine serves through evaluate()', async () => {
    const policy = await load();
    const entrypoint = policy.entrypoints[ENTRYPOINT]!;
    for (const change of [{ minorVersion: 1 }, { mem: undefined }, { wasmInstance: { exports: {} } }, { dataHeapPtr: undefined }]) {
      expect(directEvaluator(Object.assign(Object.create(policy) as object, change) as typeof policy, entrypoint)).toBeNull();
    }
  });
});
