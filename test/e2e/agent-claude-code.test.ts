import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, tagHeaders, type Gateway } from '../helpers/gateway.js';
import { CAPPED, expectLedgerMatchesTally, refusals, seedAgentCatalog, tagsFor } from '../helpers/agent-catalog.js';
import { agentCli, proxyEnv, runCli, startSideChannelTrap, tempDir, type SideChannelTrap } from '../helpers/agent-cli.js';

/**
 * Claude Code (the real npm package, pinned in test/agents/package.json) runs headless through tollgate in front
 * of the fake upstream, configured as README's "Route your agents" says: a turn with a tool call, a subagent, a
 * hard cap. Every proxy variable points at a trap that refuses and records any connection, so anything that
 * would go around the gateway shows up.
 */

const CLI = agentCli('@anthropic-ai/claude-code', 'claude');
const AGENT = 'claude-code';

let gw: Gateway;
let key: string;
let trap: SideChannelTrap;
const dirs: string[] = [];
// A run takes seconds; on a loaded machine (2 shared cores) it may take many more.
const RUN_TIMEOUT_MS = 120_000;

type Result = { subtype: string; is_error: boolean; num_turns: number; session_id: string; api_error_status?: number; result?: string };

/** One headless run, in a fresh HOME and working tree, with its own session id (tollgate's and Claude Code's). */
async function claude(prompt: string, opts: { useCase?: string; args?: string[]; maxTurns?: number; side?: 'off' | 'default' } = {}) {
  const session = crypto.randomUUID();
  const [home, work] = [tempDir('claude-home'), tempDir('claude-work')];
  dirs.push(home, work);
  const headers = tagHeaders(tagsFor(AGENT, session, opts.useCase));
  const env: Record<string, string> = {
    HOME: home,
    ANTHROPIC_BASE_URL: `${gw.url}/anthropic`,
    ANTHROPIC_API_KEY: key,
    ANTHROPIC_CUSTOM_HEADERS: Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join('\n'),
    ...(opts.side === 'default' ? {} : { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL: '1' }),
    ...proxyEnv(trap),
  };
  const args = ['-p', prompt, '--output-format', 'json', '--session-id', session, '--max-turns', String(opts.maxTurns ?? 6), ...(opts.args ?? [])];
  const run = await runCli(CLI.bin, args, { env, cwd: work });
  let result: Result | undefined;
  try {
    result = JSON.parse(run.stdout) as Result;
  } catch {
    result = undefined;
  }
  return { ...run, result, session, work };
}

const directive = (name: string, input: object) => `[call:${name} ${JSON.stringify(input)}]`;

describe.skipIf(CLI.skip !== '')(`Claude Code ${CLI.pinned} through tollgate`, { timeout: RUN_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    expect(CLI.installed, `Claude Code ${CLI.pinned} must be installed for CI (bash .ci/agents.sh)`).toBe(CLI.pinned);
    gw = await startGateway({ TOLLGATE_SEED: 'never' });
    await seedAgentCatalog(gw, [{ id: AGENT, models: ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-5-5'] }]);
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
    const run = await claude(directive('Bash', { command: 'echo tollgate > proof.txt', description: 'Write a proof file' }), { args: ['--allowedTools', 'Bash'] });
    expect(run.result, run.stderr || run.stdout).toMatchObject({ subtype: 'success', is_error: false, session_id: run.session });
    // The tool really ran: the fake asked for it, Claude Code ran it, and its result ended the turn in text.
    expect(fs.readFileSync(path.join(run.work, 'proof.txt'), 'utf8')).toBe('tollgate\n');
    expect(gw.upstream.requests.map((r) => r.body as { model: string }).map((b) => b.model)).toEqual(['claude-opus-5-5', 'claude-opus-5-5']);
    const rows = await expectLedgerMatchesTally(gw, run.session);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ agent_id: AGENT, use_case_id: 'coding-agents', endpoint: '/messages', model_requested: 'claude-opus-5-5' });
    expect(rows[0]!.tools).toEqual(expect.arrayContaining(['Bash']));
    // Its betas reached the provider (tollgate must keep them), its tollgate key did not.
    const upstream = gw.upstream.requests[0]!;
    expect(String(upstream.headers['anthropic-beta'])).toContain('claude-code-20250219');
    expect(upstream.headers['x-api-key']).not.toBe(key);
    expect(trap.connections() - trapped).toBe(0);
  });

  it('runs a subagent through tollgate: its calls, at the model it asked for, are metered in the same session', async () => {
    const task = directive('Bash', { command: 'ls', description: 'List the files' });
    const prompt = directive('Agent', { description: 'List the files', prompt: task, subagent_type: 'Explore', model: 'haiku', run_in_background: false });
    const run = await claude(prompt, { args: ['--allowedTools', 'Bash'] });
    expect(run.result, run.stderr || run.stdout).toMatchObject({ subtype: 'success', is_error: false });
    // Parent: the Agent call and, after the report, its answer; subagent: its Bash call and its report.
    const models = gw.upstream.requests.map((r) => (r.body as { model: string }).model);
    expect(models).toEqual(['claude-opus-5-5', 'claude-haiku-5-5', 'claude-haiku-5-5', 'claude-opus-5-5']);
    const rows = await expectLedgerMatchesTally(gw, run.session);
    expect(rows.filter((r) => r.model_requested === 'claude-haiku-5-5')).toHaveLength(2);
  });

  it('stops at a hard cap after one attempt: no retry storm, nothing reaches the provider', async () => {
    const run = await claude('Say hello.', { useCase: CAPPED });
    // Claude Code shows the status and tollgate's message (not the code) and gives up: x-should-retry: false.
    expect(run.result, run.stderr || run.stdout).toMatchObject({ is_error: true, api_error_status: 429 });
    expect(run.result!.result).toContain('hard cap');
    const refused = await refusals(gw, run.session);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ code: 'budget_exhausted', http_status: 429, use_case_id: CAPPED });
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('reaches other hosts around the gateway when its nonessential traffic is left on (the trap sees it)', async () => {
    const trapped = trap.seen.length;
    const run = await claude('Say hello.', { side: 'default', maxTurns: 1 });
    expect(run.code, run.stderr).not.toBeNull();
    expect(trap.seen.slice(trapped).some((line) => /^CONNECT (?!127\.0\.0\.1|localhost)/.test(line)), trap.seen.join('\n')).toBe(true);
  });
});
