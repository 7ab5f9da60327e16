import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeReports } from '../../src/demo/fake-upstream-reports.js';
import { runReconcile } from '../../src/reconcile/runner.js';
import { TEST_DB_KIND } from '../helpers/db.js';
import { BYPASS_CALLS, costOf, meterTollgateCalls, reconcileEnv, startReports, TOLLGATE_CALLS } from '../helpers/reconcile.js';
import { startAnalytics, type AnalyticsHarness } from '../integration/fixtures/analytics.js';

/** The shadow-spend panel of the council page's finance overview, in headless Chromium (as council-page.test.ts). */

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false';
const SKIP = !fs.existsSync(CHROMIUM) && !IN_CI ? `${CHROMIUM} is missing (apt-get install chromium)` : '';
const OUTPUT = path.resolve(import.meta.dirname, '../output');

let h: AnalyticsHarness;
let reports: FakeReports;
let url: string;
let context: BrowserContext;
let profile: string;

const usd = (amount: string) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(Number(amount));

describe.skipIf(SKIP)(`the shadow-spend panel${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    reports = await startReports();
    reports.add([...TOLLGATE_CALLS, ...BYPASS_CALLS]);
    h = await startAnalytics('analytics', reconcileEnv(reports));
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    await meterTollgateCalls(h.db);
    for (const provider of ['openai', 'anthropic'] as const) {
      await runReconcile(h.db, h.app.tollgate.config.reconcile, { provider, from: '2026-06-01', to: '2026-06-05', triggeredBy: 'test' });
    }
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 1100 },
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await h?.close();
    await reports?.close();
  });

  it('shows finance the month per provider, model and key, the bypassing keys apart from tollgate\'s', { timeout: 90_000 }, async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${url}/council?period=2026-06#token=${await h.token('finance')}`);
    const table = page.locator('#shadow table');
    await table.waitFor({ timeout: 30_000 });
    // Tollgate's keys (3 models) and the other keys (3 models × key).
    expect(Number(await table.getAttribute('data-rows'))).toBe(6);
    const laptop = page.locator('#shadow tr[data-key="openai:gpt-4.1:key_laptop"]');
    expect(await laptop.getAttribute('data-difference')).toBe(costOf([BYPASS_CALLS[0]!]));
    expect(await laptop.innerText()).toContain(usd(costOf([BYPASS_CALLS[0]!])));
    expect(await page.locator('#shadow tr[data-key="openai:gpt-4.1:key_tollgate"]').getAttribute('data-difference')).toBe('0.000000000000');
    expect(await page.locator('#shadow-total').innerText()).toBe(usd(costOf(BYPASS_CALLS)));
    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.locator('.finance-panel').screenshot({ path: path.join(OUTPUT, `council-shadow-${TEST_DB_KIND}.png`) });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('is not shown to the council, which may not read it', async () => {
    const page = await context.newPage();
    await page.goto(`${url}/council?period=2026-06#token=${await h.token('council')}`);
    await page.locator('#spend table').waitFor({ timeout: 30_000 });
    expect(await page.locator('#shadow-section').isHidden()).toBe(true);
    expect(await page.locator('#shadow-error').isHidden()).toBe(true);
    await page.close();
  });
});
