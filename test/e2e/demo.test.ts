import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

describe('npm run demo', () => {
  it('shows spend rising, a soft-cap downgrade, hard-cap rejections and the chargeback, then exits 0', { timeout: 240_000 }, async () => {
    // DEMO_SPEED=3 runs the same budgets at three times the pace; DEMO_UNTIL_SHOWN ends it once both marketing
    // use cases were downgraded and stopped (about 20 s on an idle machine), DEMO_SECONDS bounds a slow one.
    // DATABASE_URL is set to prove the demo ignores it (it runs on its own in-memory PGlite).
    const { stdout } = await promisify(execFile)(TSX, ['src/demo/run.ts', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, DEMO_SECONDS: '150', DEMO_SPEED: '3', DEMO_UNTIL_SHOWN: '1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      timeout: 200_000,
    });

    const tables = stdout.split('\n').filter((l) => l.startsWith('trade-promo-automation '));
    expect(tables.length).toBeGreaterThan(2);
    const costs = tables.map((l) => Number(/\$(\d+\.\d+)/.exec(l)![1]));
    expect(costs.at(-1)!).toBeGreaterThan(costs[0]!);
    expect(stdout).toMatch(/trade-promo-automation .*tier warning → soft_cap/);
    expect(stdout).toMatch(/downgrade at soft_cap, asked claude-sonnet-4-5, served claude-haiku-4-5/);
    expect(stdout).toMatch(/downgrade at soft_cap, asked gpt-4\.1, served gpt-4\.1-mini/);
    expect(stdout).toMatch(/tier soft_cap → hard_cap/);
    expect(stdout).toMatch(/rejected 429 budget_exhausted \(hard_cap\)/);
    expect(stdout).toMatch(/^digital-marketing .* hard_cap /m);

    const chargeback = stdout.slice(stdout.indexOf('chargeback, USD'));
    for (const useCase of ['trade-promo-automation', 'digital-marketing', 'demand-forecasting', 'inventory-management', 'underwriting-assist']) {
      expect(chargeback).toMatch(new RegExp(`^\\S+\\s+${useCase}\\s+\\d+\\s.*\\s0\\.\\d{12}$`, 'm'));
    }
    expect(stdout).toContain('curl');
  });
});
