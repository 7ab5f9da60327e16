import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINANCE_PAGE, writeCouncilAssets } from '../../src/council/assets.js';
import { TEST_DB_KIND } from '../helpers/db.js';
import { writeFinanceMonths, type FinanceMonths } from '../helpers/finance-months.js';
import { startAnalytics, type AnalyticsHarness } from '../integration/fixtures/analytics.js';

/**
 * The finance page in headless Chromium (Debian's package, driven by playwright-core), against a real
 * tollgate (`--role analytics`) on the database under test, with six months of synthetic traffic up to now:
 * budgets at different tiers, the soft cap's downgrades, outcomes, sessions and denials. Each panel is checked
 * against the API, for finance and for a BU owner (who must see its BU only); screenshots go to test/output/.
 */

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false';
const SKIP = !fs.existsSync(CHROMIUM) && !IN_CI ? `${CHROMIUM} is missing (apt-get install chromium)` : '';
const OUTPUT = path.resolve(import.meta.dirname, '../output');
const PANELS = ['spend', 'budgets', 'outcomes', 'downgrades', 'sessions', 'denials'] as const;
const OTHER_BUS_USE_CASES = ['Demand forecasting', 'Inventory management', 'Underwriting assistant'];

let h: AnalyticsHarness;
let url: string;
let data: FinanceMonths;
let context: BrowserContext;
let profile: string;

async function api<T>(token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const r = await h.gql<T>(token, query, variables);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!;
}

async function openPage(token: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/finance?period=${data.period}#token=${token}`);
  for (const panel of PANELS) await expect.poll(() => page.locator(`#${panel}`).getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
  return { page, errors };
}

type ApiFigures = {
  chargeback: { totals: { cost: string }; rows: { key: { bu: string; useCase: string } }[]; denied: { byCode: unknown[] } };
  budgets: { scope: string; scopeId: string; period: string; limit: string | null; tier: string; forecast: { method: string } | null }[];
  downgrades: { rows: unknown[]; saved: string };
  topSessions: { id: string }[];
};

const FIGURES = `query F($period: String!) {
  chargeback(period: $period, groupBy: [BU, USE_CASE]) { totals { cost } rows { key { bu useCase } } denied { byCode { code } } }
  budgets { scope scopeId period limit tier forecast { method } }
  downgrades(period: $period) { rows { useCase } saved }
  topSessions(period: $period, limit: 8) { id }
}`;

describe.skipIf(SKIP)(`the finance page${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does)`);
    h = await startAnalytics('analytics');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    data = await writeFinanceMonths(h.db, { now: new Date() });
    expect(data.downgraded, 'the soft cap downgraded calls of the use case over its budget').toBeGreaterThan(0);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 1000 },
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await h?.close();
  });

  it('serves the page with the strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${url}/finance`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/finance/app.js">']);
    expect((await fetch(`${url}/finance/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('renders every panel for finance, each matching the API', { timeout: 120_000 }, async () => {
    const token = await h.token('finance');
    const f = await api<ApiFigures>(token, FIGURES, { period: data.period });
    const { page, errors } = await openPage(token);

    const spend = page.locator('#spend figure.spend');
    expect(Number(await spend.getAttribute('data-series'))).toBe(f.chargeback.rows.length);
    expect(await page.locator('#spend svg rect').count()).toBeGreaterThan(f.chargeback.rows.length);

    const monthly = f.budgets.filter((b) => ['USE_CASE', 'BU'].includes(b.scope) && b.period === 'MONTH' && b.limit !== null);
    expect(await page.locator('#budgets article.burn').count()).toBe(monthly.length);
    for (const b of monthly) {
      const card = page.locator(`#budgets article.burn[data-budget="${b.scope}:${b.scopeId}"]`);
      expect(await card.getAttribute('data-tier')).toBe(b.tier);
      expect(await card.locator('line.tier-line').count()).toBe(4);
      expect(await card.getAttribute('data-forecast')).toBe(b.forecast?.method === 'LINEAR' ? 'linear' : 'none');
    }
    expect(new Set(monthly.map((b) => b.tier)).size, 'the budgets sit at different tiers').toBeGreaterThan(1);

    expect(Number(await page.locator('#outcomes table').getAttribute('data-rows'))).toBeGreaterThan(0);
    expect(Number(await page.locator('#downgrades table').getAttribute('data-rows'))).toBe(f.downgrades.rows.length);
    expect(await page.locator('#downgrades .saved').innerText()).toBe(`$${Number(f.downgrades.saved).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
    expect(await page.locator('#sessions tr[data-session]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-session')))).toEqual(f.topSessions.map((s) => s.id));
    expect(Number(await page.locator('#denials ul.codes').getAttribute('data-rows'))).toBe(f.chargeback.denied.byCode.length);
    expect(await page.locator('[data-kpi="Spend"] strong').innerText()).toBe(`$${Number(f.chargeback.totals.cost).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);

    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, `finance-page-${TEST_DB_KIND}.png`), fullPage: true });
    expect(errors, 'console errors').toEqual([]);
    await page.close();
  });

  it("shows a BU owner its BU's figures only", { timeout: 120_000 }, async () => {
    const token = await h.token('bu-owner', 'marketing');
    const f = await api<ApiFigures>(token, FIGURES, { period: data.period });
    expect(new Set(f.chargeback.rows.map((r) => r.key.bu))).toEqual(new Set(['marketing']));
    const { page, errors } = await openPage(token);

    const series = await page.locator('#spend .spend-legend li').evaluateAll((items) => items.map((i) => i.getAttribute('data-use-case')));
    expect(series.sort()).toEqual(f.chargeback.rows.map((r) => r.key.useCase).sort());
    const burns = await page.locator('#budgets article.burn').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-budget')));
    expect(burns.length).toBeGreaterThan(0);
    expect(burns.every((b) => ['USE_CASE:trade-promo-automation', 'USE_CASE:digital-marketing', 'USE_CASE:experience-management', 'BU:marketing'].includes(b!))).toBe(true);
    const text = await page.locator('#workspace').innerText();
    for (const other of OTHER_BUS_USE_CASES) expect(text).not.toContain(other);
    expect(await page.locator('#viewer-role').innerText()).toBe('Bu owner · marketing');

    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, `finance-page-bu-owner-${TEST_DB_KIND}.png`), fullPage: true });
    expect(errors, 'console errors').toEqual([]);
    await page.close();
  });

  it('refuses a council token, which does not read finance figures', async () => {
    const page = await context.newPage();
    await page.goto(`${url}/finance#token=${await h.token('council')}`);
    await expect.poll(() => page.locator('#signin-error').innerText()).toContain('FORBIDDEN');
    expect(await page.locator('#workspace').isHidden()).toBe(true);
    await page.close();
  });
});

describe('the finance page build (npm run build)', () => {
  it('writes the page and one self-contained script', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-finance-build-'));
    try {
      await writeCouncilAssets(dir, FINANCE_PAGE);
      expect(fs.readdirSync(dir).sort()).toEqual(['app.js', 'index.html', 'style.css']);
      const js = fs.readFileSync(path.join(dir, 'app.js'), 'utf8');
      expect(ts.preProcessFile(js, true, true).importedFiles.map((f) => f.fileName)).toEqual([]);
      expect(js).not.toContain('innerHTML');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
