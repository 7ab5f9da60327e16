#!/usr/bin/env node
import { Command, Option } from 'commander';

/**
 * tollgate's CLI. Each command loads what it uses when it runs, and a group of commands (agent, budget…)
 * loads its module only when it is the one asked for: `tollgate --help` loads commander alone, and a command
 * does not pay for the server, GraphQL or the adjacency analysis it does not use (test/bench/start.ts).
 */

type Attach = (group: Command) => Promise<void>;

/** The command groups: name, description, and how to add their subcommands. A new group goes here. */
const GROUPS: ReadonlyArray<[string, string, Attach]> = [
  ['agent', 'agents and their keys', async (g) => (await import('./agent-keys.js')).agentKeyCommands(g)],
  ['budget', 'use-case budgets', async (g) => {
    const [set, extend] = await Promise.all([import('./budgets.js'), import('./extend.js')]);
    set.budgetCommands(g);
    extend.budgetExtendCommands(g);
  }],
  ['report', 'reports for finance', async (g) => (await import('./reports.js')).reportCommands(g)],
  ['outcome', 'business outcome metrics (cost per outcome)', async (g) => (await import('./outcomes.js')).outcomeCommands(g)],
  ['period', 'accounting periods: close a month', async (g) => (await import('./periods.js')).periodCommands(g)],
  ['adjacency', "the council's adjacency analysis: run it, list and act on its alerts", async (g) => (await import('./adjacency.js')).adjacencyCommands(g)],
  ['price', 'the price book: import prices, list what is in force', async (g) => (await import('./prices.js')).priceCommands(g)],
  ['reconcile', "shadow spend: the providers' usage and cost reports against the ledger", async (g) => (await import('./reconcile.js')).reconcileCommands(g)],
  ['metering', 'what the metering writer set aside: records Postgres refused, usage held for review', async (g) => (await import('./metering.js')).meteringCommands(g)],
  ['token', 'API tokens for the analytics API (GraphQL, reports)', async (g) => (await import('./tokens.js')).tokenCommands(g)],
];

const program = new Command('tollgate')
  .description('Policy-enforcing egress gateway for agentic-AI spend')
  .showHelpAfterError();

program.command('serve')
  .description('start the gateway (PGlite in ./.tollgate unless DATABASE_URL is set)')
  .option('--port <port>', 'port to listen on (PORT, default 8787)')
  .addOption(new Option('--role <role>', 'what to serve (TOLLGATE_ROLE, default all)').choices(['gateway', 'analytics', 'all']))
  .action(async (opts: { port?: string; role?: string }) => {
    const [{ loadConfig }, { startServer }] = await Promise.all([import('../config.js'), import('../server.js')]);
    await startServer(loadConfig({ PORT: opts.port, TOLLGATE_ROLE: opts.role }));
  });

program.command('migrate')
  .description('apply database migrations')
  .action(async () => {
    const [{ loadConfig }, { openDatabase }] = await Promise.all([import('../config.js'), import('../db/bootstrap.js')]);
    const { close } = await openDatabase(loadConfig(), { seed: false, attach: true, log: { info: (o) => console.log(`applied: ${(o as { applied: string[] }).applied.join(', ')}`) } });
    await close();
    console.log('database is up to date');
  });

program.command('seed')
  .description('load the demo catalog, prices and budgets (idempotent)')
  .option('--no-budgets', 'leave budgets as they are')
  .option('--synthetic', 'instead: write synthetic traffic over the catalog (benchmarks, demos)')
  .option('--events <n>', 'with --synthetic: how many calls (usage events and denials)', '100000')
  .option('--months <m>', 'with --synthetic: whole UTC months of traffic, ending with --until', '3')
  .option('--until <YYYY-MM>', 'with --synthetic: the month after the last one (default: next month)')
  .option('--seed <s>', 'with --synthetic: PRNG seed (same seed, same traffic)', '1')
  .action(async (opts: { budgets: boolean; synthetic?: boolean; events: string; months: string; seed: string; until?: string }) => {
    if (opts.synthetic) return (await import('./synthetic.js')).syntheticCommand(opts);
    const [{ withDb }, { seedDemo }] = await Promise.all([import('./db.js'), import('../catalog/seed.js')]);
    const r = await withDb((db) => seedDemo(db, { budgets: opts.budgets }));
    console.log(`seeded ${r.agents} agents and ${r.prices} prices`);
  });

// `tollgate help budget` asks for the budget group as much as `tollgate budget --help` does.
const args = process.argv.slice(2);
const asked = args[0] === 'help' ? args[1] : args[0];
for (const [name, description, attach] of GROUPS) {
  const group = program.command(name).description(description);
  if (name === asked) await attach(group);
}

program.parseAsync().catch((err: unknown) => {
  console.error(`tollgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
