import { ApiError, describeError, graphqlClient, type Gql } from '../../council/page/api.js';
import { buColors } from '../../council/page/colors.js';
import { byId, el, showError } from '../../council/page/dom.js';
import { currentMonth, label, MONTH } from '../../council/page/format.js';
import { inSection, wireControls } from '../../council/page/controls.js';
import { forgetToken, storedToken, storeToken, tokenFromFragment } from '../../council/page/token.js';
import { burnDowns } from './burn.js';
import { denialsPanel, downgradesPanel, kpis, outcomesTable, sessionsTable } from './panels.js';
import { BUDGETS, CATALOG, DECISIONS, DOWNGRADES, outcomesQuery, SESSIONS, SPEND, VIEWER } from './queries.js';
import { spendChart } from './spend.js';
import type { Budget, Catalog, CostPerOutcome, Denial, Downgrades, SessionSummary, Spend, Viewer } from './types.js';

/**
 * Finance's page: the month's spend per day, each budget's burn-down with its tier lines and forecast, cost
 * per outcome over six months, the soft cap's downgrades and what they saved, the top sessions and the
 * denials. Every panel reads /graphql with the user's token and fails on its own; a BU owner's token sees its
 * BU only, because the API answers it so (src/graphql/access.ts), not because the page filters.
 */

const TREND_MONTHS = 6;
const READERS: Viewer['role'][] = ['FINANCE', 'ADMIN', 'BU_OWNER'];

type Session = { gql: Gql; viewer: Viewer };
type Names = { useCase(id: string): string; bu(id: string): string; color(bu: string): string };

const state: { session: Session | null; period: string; names: Names } = {
  session: null, period: initialPeriod(), names: { useCase: (id) => id, bu: (id) => id, color: () => '#64748b' },
};

function initialPeriod(): string {
  const asked = new URLSearchParams(location.search).get('period');
  return asked && MONTH.test(asked) ? asked : currentMonth();
}

async function signIn(token: string): Promise<void> {
  const gql = graphqlClient(token);
  storeToken(token);
  try {
    const { viewer } = await gql<{ viewer: Viewer }>(VIEWER);
    if (!READERS.includes(viewer.role)) throw new ApiError(`the ${label(viewer.role).toLowerCase()} role does not read finance figures: use a finance, admin or bu-owner token`, 'FORBIDDEN');
    state.session = { gql, viewer };
    showWorkspace(viewer);
    await loadAll();
  } catch (err) {
    const refused = err instanceof ApiError && (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN');
    if (refused) forgetToken();
    showSignIn(refused ? `The token was refused: ${describeError(err)}` : describeError(err));
  }
}

function showSignIn(error: string | null): void {
  state.session = null;
  for (const id of ['workspace', 'viewer', 'period-form']) byId(id).hidden = true;
  byId('signin').hidden = false;
  showError(byId('signin-error'), error);
  byId<HTMLInputElement>('token').focus();
}

function showWorkspace(viewer: Viewer): void {
  byId('signin').hidden = true;
  for (const id of ['workspace', 'viewer', 'period-form']) byId(id).hidden = false;
  byId('viewer-role').textContent = viewer.bu ? `${label(viewer.role)} · ${viewer.bu}` : label(viewer.role);
  byId<HTMLInputElement>('period').value = state.period;
}

async function loadAll(): Promise<void> {
  const period = state.period;
  await section('spend-error', loadNames);
  const [spend, budgets, downgrades] = await Promise.all([
    section('spend-error', () => gql<{ chargeback: Spend }>(SPEND, { period }).then((r) => r.chargeback)),
    section('budgets-error', () => gql<{ budgets: Budget[] }>(BUDGETS, { at: budgetInstant(period) }).then((r) => r.budgets)),
    section('downgrades-error', () => gql<{ downgrades: Downgrades }>(DOWNGRADES, { period }).then((r) => r.downgrades)),
    loadOutcomes(period),
    loadSessions(period),
  ]);
  if (period !== state.period) return;
  byId('kpis').replaceChildren(...kpis(spend ?? null, budgets ?? null, downgrades ?? null));
  fill('spend', spend && spendChart(spend, state.names));
  fill('budgets', spend && budgets && burnDowns(budgets, spend, state.names, new Date()));
  fill('downgrades', downgrades && downgradesPanel(downgrades, state.names));
  if (spend) await loadDenials(spend);
}

/** Display names and BU colors, from the catalog the token may see. */
async function loadNames(): Promise<void> {
  const c = await gql<Catalog>(CATALOG);
  const useCases = new Map(c.useCases.map((u) => [u.id, u.name]));
  const bus = new Map(c.businessUnits.map((b) => [b.id, b.name]));
  const colors = buColors(c.businessUnits.map((b) => b.id));
  state.names = { useCase: (id) => useCases.get(id) ?? id, bu: (id) => bus.get(id) ?? id, color: (bu) => colors.get(bu) ?? '#64748b' };
}

async function loadOutcomes(period: string): Promise<void> {
  const months = monthsEndingAt(period, TREND_MONTHS);
  await section('outcomes-error', async () => {
    const r = await gql<Record<string, CostPerOutcome[]>>(outcomesQuery(months));
    fill('outcomes', outcomesTable(months, months.map((_, i) => r[`m${i}`] ?? []), state.names));
  });
}

async function loadSessions(period: string): Promise<void> {
  await section('sessions-error', async () => {
    const { topSessions } = await gql<{ topSessions: SessionSummary[] }>(SESSIONS, { period });
    fill('sessions', sessionsTable(topSessions, 'USD'));
  });
}

async function loadDenials(spend: Spend): Promise<void> {
  await section('denials-error', async () => {
    const { decisions } = await gql<{ decisions: { nodes: Denial[] } }>(DECISIONS, { from: spend.from, to: spend.to });
    fill('denials', denialsPanel(spend, decisions.nodes, state.names));
  });
}

function fill(id: string, content: HTMLElement | null | undefined): void {
  const target = byId(id);
  if (content) target.replaceChildren(content);
  target.dataset.state = content ? 'ready' : 'failed';
}

function section<T>(errorSlot: string, work: () => Promise<T>): Promise<T | undefined> {
  return inSection(errorSlot, work, showSignIn);
}

function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  if (!state.session) throw new ApiError('Sign in first.', 'UNAUTHENTICATED');
  return state.session.gql<T>(query, variables);
}

/** Budgets are read in the period containing `at`: now for this month, else the month's last moment. */
function budgetInstant(period: string): string | null {
  if (period === currentMonth()) return null;
  const [year, month] = period.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, month, 1) - 1).toISOString();
}

function monthsEndingAt(period: string, n: number): string[] {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return Array.from({ length: n }, (_, i) => new Date(Date.UTC(year, month - n + i, 1)).toISOString().slice(0, 7));
}

function wire(): void {
  wireControls({
    signIn: (token) => void signIn(token),
    showSignIn,
    period: () => state.period,
    periodChanged: (period) => {
      state.period = period;
      void loadAll();
    },
  });
}

wire();
const token = tokenFromFragment() ?? storedToken();
if (token) void signIn(token);
else showSignIn(null);

// Kept for the empty-state text of a panel that has not loaded (a failed section shows its error instead).
for (const id of ['spend', 'budgets', 'outcomes', 'downgrades', 'sessions', 'denials']) byId(id).append(el('p', { class: 'muted loading' }, 'Loading…'));
