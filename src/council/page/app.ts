import { AlertsView } from './alerts.js';
import { ApiError, describeError, graphqlClient, type Gql } from './api.js';
import { announce, byId, showError } from './dom.js';
import { inSection, wireControls } from './controls.js';
import { budgetsTable, spendTable } from './finance.js';
import { currentMonth, label, MONTH } from './format.js';
import { AdjacencyView } from './graph.js';
import { ADJACENCY, ALERT_ACTIONS, ALERTS, BUDGETS, RUN_ADJACENCY, SHADOW, SPEND, VIEWER } from './queries.js';
import { shadowTable } from './shadow.js';
import { forgetToken, storedToken, storeToken, tokenFromFragment } from './token.js';
import type { AdjacencyGraph, Alert, AlertAction, Budget, Chargeback, ShadowSpend, Viewer } from './types.js';

/**
 * The council's review page: sign in with an API token, then the month's adjacency graph, its alerts and
 * the finance overview, each loaded and failing on its own. The period is in the query string (?period=),
 * which is safe to share; the token never is.
 */

const ACTING_ROLES: Viewer['role'][] = ['COUNCIL', 'ADMIN'];
// shadowSpend names API keys and sets every BU's spend against the provider's: finance and admin only.
const SHADOW_ROLES: Viewer['role'][] = ['FINANCE', 'ADMIN'];

type Session = { gql: Gql; viewer: Viewer };

const state: { session: Session | null; period: string; currency: string } = { session: null, period: initialPeriod(), currency: 'USD' };

const graph = new AdjacencyView({
  container: byId('graph'), legend: byId('legend'), details: byId('edge-details'), communities: byId('communities'), summary: byId('graph-summary'),
});
const alerts = new AlertsView(byId('alert-tabs'), byId('alert-list'), {
  name: (id) => graph.name(id),
  onSelect: (alert) => selectAlert(alert),
  onAction: (alert, action, note) => act(alert, action, note),
});

function initialPeriod(): string {
  const asked = new URLSearchParams(location.search).get('period');
  return asked && MONTH.test(asked) ? asked : currentMonth();
}

async function signIn(token: string): Promise<void> {
  const gql = graphqlClient(token);
  storeToken(token);
  try {
    const { viewer } = await gql<{ viewer: Viewer }>(VIEWER);
    state.session = { gql, viewer };
    showWorkspace(viewer);
    await loadAll();
  } catch (err) {
    const refused = err instanceof ApiError && err.code === 'UNAUTHENTICATED';
    if (refused) forgetToken();
    showSignIn(refused ? `The token was refused: ${describeError(err)}` : describeError(err));
  }
}

function showSignIn(error: string | null): void {
  state.session = null;
  byId('workspace').hidden = true;
  byId('viewer').hidden = true;
  byId('period-form').hidden = true;
  byId('signin').hidden = false;
  showError(byId('signin-error'), error);
  byId<HTMLInputElement>('token').focus();
}

function showWorkspace(viewer: Viewer): void {
  byId('signin').hidden = true;
  byId('workspace').hidden = false;
  byId('viewer').hidden = false;
  byId('period-form').hidden = false;
  byId('viewer-role').textContent = viewer.bu ? `${label(viewer.role)} · ${viewer.bu}` : label(viewer.role);
  byId('run-adjacency').hidden = !ACTING_ROLES.includes(viewer.role);
  byId('shadow-section').hidden = !SHADOW_ROLES.includes(viewer.role);
  byId<HTMLInputElement>('period').value = state.period;
}

async function loadAll(): Promise<void> {
  byId('finance-summary').textContent = `${state.period} (UTC)`;
  // The graph first: the first read of a month runs the analysis, which raises that month's alerts.
  await Promise.all([loadGraph().then(loadAlerts), loadSpend(), loadBudgets(), loadShadow()]);
}

function section<T>(errorSlot: string, work: () => Promise<T>): Promise<T | undefined> {
  return inSection(errorSlot, work, showSignIn);
}

async function loadGraph(): Promise<void> {
  const container = byId('graph');
  container.dataset.state = 'loading';
  await section('graph-error', async () => {
    const { adjacency } = await session().gql<{ adjacency: AdjacencyGraph }>(ADJACENCY, { period: state.period });
    state.currency = adjacency.currency;
    graph.render(adjacency);
  }).finally(() => {
    if (container.dataset.state === 'loading') container.dataset.state = 'failed';
  });
}

async function loadAlerts(): Promise<void> {
  await section('alerts-error', async () => {
    const { adjacencyAlerts } = await session().gql<{ adjacencyAlerts: Alert[] }>(ALERTS, { period: state.period });
    alerts.render(adjacencyAlerts, { canAct: ACTING_ROLES.includes(session().viewer.role), currency: state.currency });
  });
}

async function loadSpend(): Promise<void> {
  const target = byId('spend');
  await section('spend-error', async () => {
    const { chargeback } = await session().gql<{ chargeback: Chargeback }>(SPEND, { period: state.period });
    target.replaceChildren(spendTable(chargeback));
  });
}

async function loadBudgets(): Promise<void> {
  const target = byId('budgets');
  await section('budgets-error', async () => {
    const { budgets } = await session().gql<{ budgets: Budget[] }>(BUDGETS, { at: budgetInstant(state.period) });
    target.replaceChildren(budgetsTable(budgets, (id) => graph.name(id)));
  });
}

async function loadShadow(): Promise<void> {
  if (!SHADOW_ROLES.includes(session().viewer.role)) return;
  const target = byId('shadow');
  await section('shadow-error', async () => {
    const { shadowSpend } = await session().gql<{ shadowSpend: ShadowSpend }>(SHADOW, { period: state.period });
    target.replaceChildren(shadowTable(shadowSpend));
  });
}

/** Budgets are read in the period containing `at`: now for this month, else the month's last moment. */
function budgetInstant(period: string): string | null {
  if (period === currentMonth()) return null;
  const [year, month] = period.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, month, 1) - 1).toISOString();
}

function selectAlert(alert: Alert): void {
  const [a, b] = alert.pair;
  const found = graph.select(a, b);
  for (const card of byId('alert-list').querySelectorAll<HTMLElement>('article.alert')) card.classList.toggle('selected', card.dataset.alertId === alert.id);
  announce(found ? `Showing ${graph.name(a)} and ${graph.name(b)} in the graph.` : 'This pair has no edge in the current graph.');
}

async function act(alert: Alert, action: AlertAction, note: string): Promise<void> {
  await session().gql(ALERT_ACTIONS[action], { id: alert.id, note: note || null });
  announce(`Alert ${action === 'acknowledge' ? 'acknowledged' : action === 'escalate' ? 'escalated' : 'resolved'}.`);
  await loadAlerts();
}

async function runAgain(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  await section('graph-error', () => session().gql(RUN_ADJACENCY, { period: state.period }));
  button.disabled = false;
  await loadGraph();
  await loadAlerts();
}

function session(): Session {
  if (!state.session) throw new ApiError('Sign in first.', 'UNAUTHENTICATED');
  return state.session;
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
  const run = byId<HTMLButtonElement>('run-adjacency');
  run.addEventListener('click', () => void runAgain(run));
}

function start(): void {
  wire();
  const token = tokenFromFragment() ?? storedToken();
  if (token) void signIn(token);
  else showSignIn(null);
}

start();
