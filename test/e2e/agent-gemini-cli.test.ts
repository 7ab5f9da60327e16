import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, type Gateway } from '../helpers/gateway.js';
import { CAPPED, expectLedgerMatchesTally, refusals, seedAgentCatalog, tagsFor } from '../helpers/agent-catalog.js';
import { agentCli, netTrapEnv, netTrapped, proxyEnv, runCli, startSideChannelTrap, tempDir, type SideChannelTrap } from '../helpers/agent-cli.js';

/**
 * Gemini CLI (the real npm package, pinned in test/agents/package.json) runs headless through tollgate's /gemini
 * in front of the fake upstream, configured as README's "Route your agents" says: GOOGLE_GEMINI_BASE_URL, the
 * tollgate key in GEMINI_API_KEY, the tags in GEMINI_CLI_CUSTOM_HEADERS, and a settings.json that picks the API-key
 * auth, pins the model and turns usage statistics off. Every proxy variable points at a trap that refuses and
 * records any connection, and a preload refuses and records any socket its Node processes open beyond loopback
 * (Node's fetch ignores proxy variables), so anything that would go around the gateway shows up.
 */

const CLI = agentCli('@google/gemini-cli', 'gemini');
const AGENT = 'gemini-cli';
const MODEL = 'gemini-2.5-pro';

let gw: Gateway;
let key: string;
let trap: SideChannelTrap;
const dirs: string[] = [];
// A run takes seconds; on a loaded machine (2 shared cores) it may take many more.
const RUN_TIMEOUT_MS = 120_000;

/**
 * README's ~/.gemini/settings.json; `side: 'default'` leaves its usage statistics on. `maxAttempts: 1` keeps a
 * failing run short; `retries: 'default'` leaves its own retry policy (ten attempts over minutes for a quota error
 * it believes passing), which a hard cap must stop.
 */
function settings(side: 'off' | 'default', retries: 'one' | 'default'): object {
  return {
    security: { auth: { selectedType: 'gemini-api-key' } },
    model: { name: MODEL },
    ...(side === 'off' ? { privacy: { usageStatisticsEnabled: false } } : {}),
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false, ...(retries === 'one' ? { maxAttempts: 1 } : {}) },
  };
}

type Result = { session_id?: string; response?: string; error?: { type: string; message: string; code: number }; stats?: { tools: { totalCalls: number; totalSuccess: number } } };

/** One headless run, in a fresh HOME and working tree, with its own session id (tollgate's and Gemini CLI's). */
async function gemini(prompt: string, opts: { useCase?: string; side?: 'off' | 'default'; retries?: 'one' | 'default' } = {}) {
  const session = crypto.randomUUID();
  const [home, work] = [tempDir('gemini-home'), tempDir('gemini-work')];
  dirs.push(home, work);
  fs.mkdirSync(path.join(home, '.gemini'));
  fs.writeFileSync(path.join(home, '.gemini', 'settings.json'), JSON.stringify(settings(opts.side ?? 'off', opts.retries ?? 'one'), null, 2));
  const headers = tagHeaders(tagsFor(AGENT, session, opts.useCase));
  const env: Record<string, string> = {
    HOME: home,
    // Where it writes an error's full report.
    TMPDIR: home,
    GOOGLE_GEMINI_BASE_URL: `${gw.url}/gemini`,
    GEMINI_API_KEY: key,
    GEMINI_CLI_CUSTOM_HEADERS: Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join(', '),
    ...proxyEnv(trap),
    ...netTrapEnv(path.join(home, 'net-trap.log')),
  };
  // --skip-trust: a fresh working tree is not a trusted folder; --approval-mode yolo: the fake's tool calls run.
  const args = ['-p', prompt, '--output-format', 'json', '--session-id', session, '--skip-trust', '--approval-mode', 'yolo'];
  const run = await runCli(CLI.bin, args, { env, cwd: work });
  return { ...run, result: resultOf(run.stdout, run.stderr), session, work, net: netTrapped(path.join(home, 'net-trap.log')) };
}

/** `--output-format json` prints the result on stdout, or on a failure on stderr after the error's report. */
function resultOf(stdout: string, stderr: string): Result | undefined {
  for (const text of [stdout, stderr.slice(stderr.lastIndexOf('\n{') + 1)]) {
    try {
      return JSON.parse(text) as Result;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

const directive = (name: string, input: object) => `[call:${name} ${JSON.stringify(input)}]`;
const calls = () => gw.upstream.requests.map((r) => r.url);

describe.skipIf(CLI.skip !== '')(`Gemini CLI ${CLI.pinned} through tollgate`, { timeout: RUN_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    expect(CLI.installed, `Gemini CLI ${CLI.pinned} must be installed for CI (bash .ci/agents.sh)`).toBe(CLI.pinned);
    gw = await startGateway({ TOLLGATE_SEED: 'never' });
    await seedAgentCatalog(gw, [{ id: AGENT, models: [`gemini/${MODEL}`] }]);
    key = await gw.key(AGENT);
    trap = await startSideChannelTrap();
  });
  afterAll(async () => {
    await gw?.close();
    await trap?.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => gw.upstream.reset());

  it('completes a turn with a tool call; the ledger equals the fake\'s tally; nothing goes around the gateway', async () => {
    const trapped = trap.connections();
    const run = await gemini(directive('run_shell_command', { command: 'echo tollgate > proof.txt', description: 'Write a proof file' }));
    expect(run.result, run.stderr || run.stdout).toMatchObject({ session_id: run.session, response: expect.any(String) });
    expect(run.result!.error).toBeUndefined();
    expect(run.code, run.stderr).toBe(0);
    // The tool really ran: the fake asked for it, Gemini CLI ran it, and its result ended the turn in text.
    expect(fs.readFileSync(path.join(run.work, 'proof.txt'), 'utf8')).toBe('tollgate\n');
    expect(run.result!.stats?.tools).toMatchObject({ totalCalls: 1, totalSuccess: 1 });
    const stream = `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`;
    expect(calls()).toEqual([stream, stream]);
    const rows = await expectLedgerMatchesTally(gw, run.session);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ agent_id: AGENT, use_case_id: 'coding-agents', provider: 'gemini', endpoint: ':streamGenerateContent', model_requested: MODEL });
    expect(rows[0]!.tools).toEqual(expect.arrayContaining(['run_shell_command']));
    // Its tollgate key did not reach the provider.
    expect(gw.upstream.requests[0]!.headers['x-goog-api-key']).not.toBe(key);
    expect(trap.connections() - trapped, trap.seen.join('\n')).toBe(0);
    // Nor directly: the trap was in every Node process it ran, and none opened a socket beyond loopback.
    expect(run.net.loads).toBeGreaterThan(0);
    expect(run.net.connects).toEqual([]);
  });

  it('stops at a hard cap after one attempt with its own retry policy: no retry storm, nothing reaches the provider', async () => {
    // The refusal's RetryInfo (over 300 s) and QuotaFailure make it a terminal quota error for the CLI.
    const run = await gemini('Say hello.', { useCase: CAPPED, retries: 'default' });
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.result?.error?.message, run.stderr || run.stdout).toContain('hard cap');
    const refused = await refusals(gw, run.session);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ code: 'budget_exhausted', http_status: 429, use_case_id: CAPPED });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('reaches other hosts around the gateway when its usage statistics are left on (the trap sees it)', async () => {
    const trapped = trap.seen.length;
    const run = await gemini('Say hello.', { side: 'default' });
    expect(run.code, run.stderr).not.toBeNull();
    const around = [...trap.seen.slice(trapped).filter((line) => /^CONNECT (?!127\.0\.0\.1|localhost)/.test(line)), ...run.net.connects];
    // Its usage statistics (Clearcut), whatever the base URL.
    expect(around.filter((line) => line.includes('play.googleapis.com:443')).length, around.join('\n')).toBeGreaterThan(0);
  });
});
