#!/usr/bin/env node
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { openDatabase } from '../db/bootstrap.js';
import { seedDemo } from '../catalog/seed.js';
import { agentKeyCommands } from './agent-keys.js';
import { budgetCommands } from './budgets.js';
import { reportCommands } from './reports.js';
import { withDb } from './db.js';

const program = new Command('tollgate')
  .description('Policy-enforcing egress gateway for agentic-AI spend')
  .showHelpAfterError();

program.command('serve')
  .description('start the gateway (PGlite in ./.tollgate unless DATABASE_URL is set)')
  .option('--port <port>', 'port to listen on (PORT, default 8787)')
  .action(async (opts: { port?: string }) => startServer(loadConfig({ PORT: opts.port })));

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
  .action(async (opts: { budgets: boolean }) => {
    const r = await withDb((db) => seedDemo(db, { budgets: opts.budgets }));
    console.log(`seeded ${r.agents} agents and ${r.prices} prices`);
  });

agentKeyCommands(program.command('agent').description('agents and their keys'));
budgetCommands(program.command('budget').description('use-case budgets'));
reportCommands(program.command('report').description('reports for finance'));

program.parseAsync().catch((err: unknown) => {
  console.error(`tollgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
