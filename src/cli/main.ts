#!/usr/bin/env node
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { openDatabase } from '../db/bootstrap.js';
import { seedDemo } from '../catalog/seed.js';
import { agentKeyCommands } from './agent-keys.js';
import { budgetCommands } from './budgets.js';
import { budgetExtendCommands } from './extend.js';
import { reportCommands } from './reports.js';
import { tokenCommands } from './tokens.js';
import { withDb } from './db.js';
import { syntheticCommand, type SyntheticCliOptions } from './synthetic.js';
import { outcomeCommands } from './outcomes.js';
import { periodCommands } from './periods.js';
import { adjacencyCommands } from './adjacency.js';
import { meteringCommands } from './metering.js';

const program = new Command('tollgate')
  .description('Policy-enforcing egress gateway for agentic-AI spend')
  .showHelpAfterError();

program.command('serve')
  .description('start the gateway (PGlite in ./.tollgate unless DATABASE_URL is set)')
  .option('--port <port>', 'port to listen on (PORT, default 8787)')
  .addOption(new Option('--role <role>', 'what to serve (TOLLGATE_ROLE, default all)').choices(['gateway', 'analytics', 'all']))
  .action(async (opts: { port?: string; role?: string }) => startServer(loadConfig({ PORT: opts.port, TOLLGATE_ROLE: opts.role })));

program.command('migrate')
  .description('apply database migrations')
  .action(async () => {
    const { close } = await openDatabase(loadConfig(), { seed: false, log: { info: (o) => console.log(`applied: ${(o as { applied: string[] }).applied.join(', ')}`) } });
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
  .action(async (opts: { budgets: boolean; synthetic?: boolean } & SyntheticCliOptions) => {
    if (opts.synthetic) return syntheticCommand(opts);
    const r = await withDb((db) => seedDemo(db, { budgets: opts.budgets }));
    console.log(`seeded ${r.agents} agents and ${r.prices} prices`);
  });

agentKeyCommands(program.command('agent').description('agents and their keys'));
const budget = program.command('budget').description('use-case budgets');
budgetCommands(budget);
budgetExtendCommands(budget);
reportCommands(program.command('report').description('reports for finance'));
outcomeCommands(program.command('outcome').description('business outcome metrics (cost per outcome)'));
periodCommands(program.command('period').description('accounting periods: close a month'));
adjacencyCommands(program.command('adjacency').description("the council's adjacency analysis: run it, list and act on its alerts"));
meteringCommands(program.command('metering').description('what the metering writer set aside: records Postgres refused, usage held for review'));
tokenCommands(program.command('token').description('API tokens for the analytics API (GraphQL, reports)'));

program.parseAsync().catch((err: unknown) => {
  console.error(`tollgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
