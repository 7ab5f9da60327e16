import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { CAPPED, CODING, ENGINEERING, expectLedgerMatchesTally, refusals, seedAgentCatalog } from '../helpers/agent-catalog.js';
import { agentCli, proxyEnv, runCli, startSideChannelTrap, tempDir, type SideChannelTrap } from '../helpers/agent-cli.js';

/**
 * Codex CLI (the real npm package, pinned in test/agents/package.json) runs headless (`codex exec`) through
 * tollgate in front of the fake upstream, configured as README's "Route your agents" says: a model provider
 * entry for tollgate with the tags in http_headers and the session id from the environment, and its analytics,
 * feedback, plugins and update checks off. Every proxy variable points at a trap that refuses and records any
 * connection, so anything that would go around the gateway shows up.
 */

const CLI = agentCli('@openai/codex', 'codex');
const AGENT = 'codex-cli';

let gw: Gateway;
let key: string;
let trap: SideChannelTrap;
const dirs: string[] = [];
// A run takes seconds; on a loaded machine (2 shared cores) it may take many more.
const RUN_TIMEOUT_MS = 120_000;

/** README's config.toml, for one use case; `sideChannels: 'default'` leaves Codex's own settings. */
function configToml(useCase: string, sideChannels: 'off' | 'default'): string {
  const off = ['check_for_update_on_startup = false', '', '[analytics]', 'enabled = false', '', '[feedback]', 'enabled = false', '', '[features]', 'plugins = false', ''];
  return [
    'model_provider = "tollgate"',
    ...(sideChannels === 'off' ? off : ['']),
    '[model_providers.tollgate]',
    'name = "tollgate"',
    `base_url = "${gw.url}/openai/v1"`,
    'env_key = "TOLLGATE_KEY"',
    'wire_api = "responses"',
    `http_headers = { "x-tollgate-bu" = "${ENGINEERING}", "x-tollgate-use-case" = "${useCase}", "x-tollgate-agent-id" = "${AGENT}" }`,
    'env_http_headers = { "x-tollgate-session-id" = "TOLLGATE_SESSION_ID" }',
    '',
  ].join('\n');
}

/** One `codex exec`, in a fresh CODEX_HOME and working tree, with its own session id. */
async function codex(prompt: string, opts: { useCase?: string; sideChannels?: 'off' | 'default' } = {}) {
  const session = crypto.randomUUID();
  const [home, work] = [tempDir('codex-home'), tempDir('codex-work')];
  dirs.push(home, work);
  fs.writeFileSync(path.join(home, 'config.toml'), configToml(opts.useCase ?? CODING, opts.sideChannels ?? 'off'));
  const env = { HOME: home, CODEX_HOME: home, TOLLGATE_KEY: key, TOLLGATE_SESSION_ID: session, ...proxyEnv(trap) };
  // The fake's tool calls run for real; CI is the sandbox here, so Codex's own (bubblewrap) is not needed.
  const args = ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '--color', 'never', prompt];
  return { ...(await runCli(CLI.bin, args, { env, cwd: work })), session, work };
}

/** Codex's default model runs tools through `exec`, a freeform tool taking JavaScript that calls the others. */
const execCommand = (cmd: string) => `[call:exec ${JSON.stringify(`const r = await tools.exec_command({ cmd: ${JSON.stringify(cmd)} }); text(JSON.stringify(r))`)}]`;
const models = () => gw.upstream.requests.map((r) => (r.body as { model: string }).model);

describe.skipIf(CLI.skip !== '')(`Codex CLI ${CLI.pinned} through tollgate`, { timeout: RUN_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    expect(CLI.installed, `Codex CLI ${CLI.pinned} must be installed for CI (bash .ci/agents.sh)`).toBe(CLI.pinned);
    gw = await startGateway({ TOLLGATE_SEED: 'never' });
    await seedAgentCatalog(gw, [{ id: AGENT, models: ['gpt-6.2-sol', 'gpt-6-luna'] }]);
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
    const run = await codex(execCommand('echo tollgate > proof.txt'));
    expect(run.code, run.stderr).toBe(0);
    expect(fs.readFileSync(path.join(run.work, 'proof.txt'), 'utf8')).toBe('tollgate\n');
    expect(models()).toEqual(['gpt-6.2-sol', 'gpt-6.2-sol']);
    const rows = await expectLedgerMatchesTally(gw, run.session);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ agent_id: AGENT, use_case_id: CODING, endpoint: '/responses', model_requested: 'gpt-6.2-sol' });
    const upstream = gw.upstream.requests[0]!;
    expect(upstream.headers.authorization).not.toBe(`Bearer ${key}`);
    expect(trap.connections() - trapped).toBe(0);
  });

  it('runs a subagent through tollgate: spawned, waited for, metered in the same session', async () => {
    const spawn = `[call:spawn_agent ${JSON.stringify({ task_name: 'list_files', fork_turns: 'none', message: execCommand('ls > listed.txt') })}]`;
    const run = await codex(`${spawn} [call:wait_agent {"timeout_ms":30000}]`);
    expect(run.code, run.stderr).toBe(0);
    expect(fs.existsSync(path.join(run.work, 'listed.txt'))).toBe(true);
    // Parent: spawn, wait, answer; subagent: its exec call and its report. Codex marks a subagent's requests with
    // x-openai-subagent, which tollgate does not forward (src/providers/openai/headers.ts): the subagent's are the
    // ones that carry its task but not the parent's directive that spawned it.
    const subagent = gw.upstream.requests.filter((r) => {
      const text = JSON.stringify(r.body);
      return text.includes('listed.txt') && !text.includes('spawn_agent {');
    });
    expect(subagent).toHaveLength(2);
    expect(subagent.every((r) => r.headers['x-openai-subagent'] === undefined)).toBe(true);
    expect(models()).toHaveLength(5);
    await expectLedgerMatchesTally(gw, run.session);
  });

  it('stops at a hard cap after one attempt: no retry storm, nothing reaches the provider', async () => {
    const run = await codex('Say hello.', { useCase: CAPPED });
    expect(run.code).not.toBe(0);
    // Codex reports the status only; it does not retry a 429 from a provider of its config (x-should-retry or not).
    expect(run.stderr).toContain('429 Too Many Requests');
    const refused = await refusals(gw, run.session);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ code: 'budget_exhausted', http_status: 429, use_case_id: CAPPED });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('reaches other hosts around the gateway with its analytics and plugins left on (the trap sees it)', async () => {
    const trapped = trap.seen.length;
    const run = await codex('Say hello.', { sideChannels: 'default' });
    expect(run.code, run.stderr).toBe(0);
    expect(trap.seen.slice(trapped).some((line) => /^CONNECT (?!127\.0\.0\.1|localhost)/.test(line)), trap.seen.join('\n')).toBe(true);
  });
});
