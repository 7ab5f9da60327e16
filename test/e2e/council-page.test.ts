import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCouncilAssets } from '../../src/council/assets.js';
import { generateApiToken, insertApiToken } from '../../src/db/api-tokens.js';
import { SHOCK, writeCoupledMonth, writeShockMonth } from '../helpers/adjacency-month.js';
import { TEST_DB_KIND } from '../helpers/db.js';
import { startAnalytics, type AnalyticsHarness } from '../integration/fixtures/analytics.js';

/**
 * The council's review page in headless Chromium (Debian's package, driven by playwright-core), against a
 * real tollgate (`--role analytics`) on the database under test, with a synthetic month whose reference pair
 * (marketing trade-promo → supply-chain demand-forecasting) raises an alert.
 */

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false';
// Outside CI a machine without chromium skips this file; in CI a missing browser is a failure (.ci/run installs it).
const SKIP = !fs.existsSync(CHROMIUM) && !IN_CI ? `${CHROMIUM} is missing (apt-get install chromium)` : '';
const PERIOD = '2026-06';
const LABEL = 'council-page-e2e';
const OUTPUT = path.resolve(import.meta.dirname, '../output');
const SCREENSHOT = path.join(OUTPUT, `council-page-${TEST_DB_KIND}.png`);
const PAIR = [SHOCK.follower.useCase, SHOCK.leader.useCase].sort() as [string, string];

// Browser globals used inside page.evaluate (the tests' tsconfig has no DOM lib).
type Bitmap = { width: number; height: number };
type Context2d = { drawImage(b: Bitmap, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
declare function createImageBitmap(blob: Blob): Promise<Bitmap>;
declare class OffscreenCanvas {
  constructor(width: number, height: number);
  getContext(type: '2d'): Context2d | null;
}
declare const sessionStorage: { length: number };

type ApiGraph = { nodes: { id: string }[]; edges: { source: string; target: string }[] };
type ApiAlert = { id: string; status: string; pair: string[]; evidence: { leadLag?: { lagDays: number; significant: boolean } }; history: { to: string; by: string; note: string | null }[] };

let h: AnalyticsHarness;
let url: string;
let token: string;
let context: BrowserContext;
let profile: string;
let graph: ApiGraph;
let alert: ApiAlert;

async function councilToken(): Promise<string> {
  const t = generateApiToken();
  await insertApiToken(h.db, { id: t.id, hash: t.hash, prefix: t.prefix, role: 'council', label: LABEL });
  return t.token;
}

async function api<T>(query: string): Promise<T> {
  const r = await h.gql<T>(token, query);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!;
}

const ALERT_FIELDS = 'id status pair evidence history { to by note }';
const findAlert = async () => (await api<{ adjacencyAlerts: ApiAlert[] }>(`{ adjacencyAlerts(filter: { period: "${PERIOD}" }) { ${ALERT_FIELDS} } }`))
  .adjacencyAlerts.find((a) => a.pair.join() === PAIR.join());

/** A page that records what a clean page must not produce: console errors, uncaught exceptions. */
async function openPage(): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  return { page, errors, requests };
}

/** Colored pixels in a PNG of the graph (decoded by the browser): nodes and edges, not the pale background. */
async function coloredPixels(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (Math.max(data[i]!, data[i + 1]!, data[i + 2]!) - Math.min(data[i]!, data[i + 1]!, data[i + 2]!) > 60) n++;
    return n;
  }, png.toString('base64'));
}

describe.skipIf(SKIP)(`the council page${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does)`);
    h = await startAnalytics('analytics');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    await writeShockMonth(h.db, { period: PERIOD });
    token = await councilToken();
    // The first read runs the analysis; the page then shows the same stored run.
    graph = (await api<{ adjacency: ApiGraph }>(`{ adjacency(period: "${PERIOD}") { nodes { id } edges { source target } } }`)).adjacency;
    alert = (await findAlert())!;
    expect(alert, 'the reference pair raises an alert').toBeDefined();
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
  });

  it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(`${url}/council`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).toMatch(/<script type="module" src="\/council\/app\.js"><\/script>/);
    expect(html.match(/<script\b[^>]*>/g)).toHaveLength(1);
    const js = await fetch(`${url}/council/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await js.text()).length).toBeGreaterThan(50_000);
    expect((await fetch(`${url}/council/nope.js`)).status).toBe(404);
  });

  it('draws the graph, lists the alert with its evidence, and acknowledges it', { timeout: 90_000 }, async () => {
    const { page, errors, requests } = await openPage();
    await page.goto(`${url}/council?period=${PERIOD}#token=${token}`);
    const canvas = page.locator('#graph');
    await expect.poll(() => canvas.getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
    expect(new URL(page.url()).hash, 'the token is cleared from the address bar').toBe('');
    expect(Number(await canvas.getAttribute('data-nodes'))).toBe(graph.nodes.length);
    expect(Number(await canvas.getAttribute('data-edges'))).toBe(graph.edges.length);
    expect(graph.edges.length).toBeGreaterThan(0);
    expect(await page.locator('#graph canvas').count()).toBeGreaterThan(0);
    expect(await coloredPixels(page, await canvas.screenshot())).toBeGreaterThan(500);

    const card = page.locator(`article.alert[data-alert-id="${alert.id}"]`);
    await card.waitFor();
    await expect.poll(() => card.getAttribute('data-status')).toBe('OPEN');
    const text = await card.innerText();
    expect(text).toContain(SHOCK.tool);
    const lag = alert.evidence.leadLag!.lagDays;
    expect(lag).toBe(SHOCK.lagDays);
    expect(text).toContain(`lag ${lag} days`);

    await card.locator('h3').click();
    await expect.poll(() => canvas.getAttribute('data-highlighted-edge')).toBe(PAIR.join('|'));

    const note = 'Seen by the council: promo calendar to be shared with supply chain.';
    await card.getByLabel('Note').fill(note);
    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 15_000 }).toBe('ACKNOWLEDGED');
    expect(await card.locator('[data-role="status"]').innerText()).toBe('Acknowledged');

    const stored = await api<{ adjacencyAlert: ApiAlert }>(`{ adjacencyAlert(id: "${alert.id}") { ${ALERT_FIELDS} } }`);
    expect(stored.adjacencyAlert.status).toBe('ACKNOWLEDGED');
    expect(stored.adjacencyAlert.history.at(-1)).toEqual({ to: 'ACKNOWLEDGED', by: LABEL, note });

    await page.locator('#spend table').waitFor();
    await page.locator('#budgets table').waitFor();
    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`council page screenshot: ${SCREENSHOT}`);

    expect(errors, 'console errors').toEqual([]);
    expect(requests.filter((r) => r.includes(token)), 'the token never goes into a URL').toEqual([]);
    await page.close();
  });

  it('shows the finance overview: spend by BU and use case, and each budget with its tier', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${url}/council?period=${PERIOD}#token=${token}`);
    const spend = page.locator('#spend table');
    await spend.waitFor();
    const { chargeback } = await api<{ chargeback: { rows: unknown[] } }>(`{ chargeback(period: "${PERIOD}", groupBy: [BU, USE_CASE]) { rows { cost } } }`);
    expect(Number(await spend.getAttribute('data-rows'))).toBe(chargeback.rows.length);
    expect(await spend.innerText()).toContain('Trade');
    const budget = page.locator('#budgets tr[data-budget="USE_CASE:trade-promo-automation"]');
    await budget.waitFor();
    const { budgets } = await api<{ budgets: { scope: string; scopeId: string; tier: string }[] }>(`{ budgets(at: "${PERIOD}-30T23:59:59.999Z") { scope scopeId tier } }`);
    const tier = budgets.find((b) => b.scope === 'USE_CASE' && b.scopeId === 'trade-promo-automation')!.tier;
    expect(await budget.getAttribute('data-tier')).toBe(tier);
    expect(errors).toEqual([]);
    await page.close();
  });

  // Regression: an alert's evidence read "r = 1.00 · p = 0.188" for a lead-lag that did not count, beside a
  // lead-lag weight of 0.00.
  it('marks a lead-lag that was not significant as such, on the alert and on its edge', { timeout: 90_000 }, async () => {
    const month = '2026-05';
    await writeCoupledMonth(h.db, { period: month });
    await api(`{ adjacency(period: "${month}") { run { id } } }`);
    const coupled = (await api<{ adjacencyAlerts: ApiAlert[] }>(`{ adjacencyAlerts(filter: { period: "${month}" }) { ${ALERT_FIELDS} } }`)).adjacencyAlerts
      .find((a) => a.pair.join() === PAIR.join())!;
    expect(coupled.evidence.leadLag, 'the alert carries a lead-lag that did not count').toMatchObject({ significant: false });

    const { page, errors } = await openPage();
    await page.goto(`${url}/council?period=${month}#token=${token}`);
    const card = page.locator(`article.alert[data-alert-id="${coupled.id}"]`);
    await card.waitFor();
    const row = card.locator('dd[data-signal="lead-lag"]');
    expect(await row.getAttribute('data-significant')).toBe('false');
    expect(await row.innerText()).toMatch(/^not significant/);
    expect(await row.innerText()).toContain('not counted in the weight');

    await card.locator('h3').click();
    const edge = page.locator('#edge-details');
    await expect.poll(() => edge.locator('dd[data-signal="lead-lag"]').getAttribute('data-significant')).toBe('false');
    expect(await edge.locator('#signal-leadLag').getAttribute('value')).toBe('0.000');
    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, `council-lead-lag-${TEST_DB_KIND}.png`), fullPage: true });
    expect(errors).toEqual([]);

    // A lead-lag that counted is shown without the mark.
    await page.goto(`${url}/council?period=${PERIOD}`);
    const shock = page.locator(`article.alert[data-alert-id="${alert.id}"] dd[data-signal="lead-lag"]`);
    await shock.waitFor();
    expect(await shock.getAttribute('data-significant')).toBe('true');
    expect(await shock.innerText()).not.toContain('not significant');
    await page.close();
  });

  it('refuses a bad token with the API error code, and keeps nothing of it', async () => {
    const { page } = await openPage();
    await page.goto(`${url}/council`);
    await page.getByRole('textbox', { name: 'API token' }).fill(`tga_${'x'.repeat(43)}`);
    await page.getByRole('button', { name: 'Open the review' }).click();
    const error = page.locator('#signin-error');
    await expect.poll(() => error.innerText()).toContain('UNAUTHENTICATED');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.locator('#workspace').isHidden()).toBe(true);
    fs.mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, `council-signin-${TEST_DB_KIND}.png`) });
    await page.close();
  });
});

describe('the council page build (npm run build)', () => {
  it('writes the page and one self-contained script: sigma and graphology bundled, nothing left to resolve', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-council-build-'));
    try {
      await writeCouncilAssets(dir);
      expect(fs.readdirSync(dir).sort()).toEqual(['app.js', 'favicon.svg', 'index.html', 'style.css']);
      const js = fs.readFileSync(path.join(dir, 'app.js'), 'utf8');
      expect(ts.preProcessFile(js, true, true).importedFiles.map((f) => f.fileName)).toEqual([]);
      expect(js.includes('enableEdgeEvents'), 'sigma is in the bundle').toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
