import { describeError } from './api.js';
import { el, showError } from './dom.js';
import { dateTime, fixed, label, money, percent } from './format.js';
import { evidenceList } from './evidence.js';
import type { Alert, AlertAction, AlertStatus } from './types.js';

/**
 * The alerts of the month, filtered by status, each with its evidence, the two sides' spend and budget
 * share, its history and the actions its status allows. Acting is the caller's job (`onAction`); the list
 * is rendered again afterwards from the API's answer.
 */

export type AlertHandlers = {
  onAction(alert: Alert, action: AlertAction, note: string): Promise<void>;
  onSelect(alert: Alert): void;
  name(useCase: string): string;
};

type Filter = AlertStatus | 'ALL';
const FILTERS: Filter[] = ['ALL', 'OPEN', 'ACKNOWLEDGED', 'ESCALATED', 'RESOLVED'];
/** Which actions each status allows (the lifecycle: open → acknowledged → escalated → resolved). */
const NEXT: Record<AlertStatus, AlertAction[]> = {
  OPEN: ['acknowledge', 'escalate', 'resolve'],
  ACKNOWLEDGED: ['escalate', 'resolve'],
  ESCALATED: ['resolve'],
  RESOLVED: [],
};
const ACTION_TEXT: Record<AlertAction, string> = { acknowledge: 'Acknowledge', escalate: 'Escalate', resolve: 'Resolve' };
const ORDER: Record<AlertStatus, number> = { OPEN: 0, ESCALATED: 1, ACKNOWLEDGED: 2, RESOLVED: 3 };

export class AlertsView {
  private alerts: Alert[] = [];
  private filter: Filter = 'ALL';
  private canAct = false;
  private currency = 'USD';

  constructor(private readonly tabs: HTMLElement, private readonly list: HTMLElement, private readonly handlers: AlertHandlers) {}

  render(alerts: Alert[], opts: { canAct: boolean; currency: string }): void {
    this.alerts = [...alerts].sort((a, b) => ORDER[a.status] - ORDER[b.status] || b.weight - a.weight);
    this.canAct = opts.canAct;
    this.currency = opts.currency;
    this.draw();
  }

  private draw(): void {
    this.tabs.replaceChildren(...FILTERS.map((f) => {
      const n = f === 'ALL' ? this.alerts.length : this.alerts.filter((a) => a.status === f).length;
      const tab = el('button', { type: 'button', class: 'tab', 'aria-pressed': String(f === this.filter), 'data-filter': f },
        f === 'ALL' ? 'All' : label(f), el('span', { class: 'count' }, n));
      tab.addEventListener('click', () => {
        this.filter = f;
        this.draw();
      });
      return tab;
    }));
    const shown = this.alerts.filter((a) => this.filter === 'ALL' || a.status === this.filter);
    const empty = el('p', { class: 'empty-state' }, this.alerts.length === 0 ? 'No alerts for this month.' : `No ${label(this.filter).toLowerCase()} alerts.`);
    this.list.replaceChildren(...(shown.length ? shown.map((a) => this.card(a)) : [empty]));
    this.list.dataset.count = String(shown.length);
  }

  private card(a: Alert): HTMLElement {
    const [left, right] = a.pair;
    const show = el('button', { type: 'button', class: 'link show-edge' }, 'Show in graph');
    show.addEventListener('click', () => this.handlers.onSelect(a));
    const card = el('article', { class: 'alert', 'data-alert-id': a.id, 'data-status': a.status, 'aria-labelledby': `alert-${a.id}` },
      el('header', {},
        el('h3', { id: `alert-${a.id}` }, this.handlers.name(left), el('span', { class: 'arrow', 'aria-hidden': 'true' }, ' ↔ '), this.handlers.name(right)),
        el('span', { class: `badge status ${a.status.toLowerCase()}`, 'data-role': 'status' }, label(a.status))),
      el('p', { class: 'meta' }, `${a.bus.join(' ↔ ')} · weight `, el('strong', {}, fixed(a.weight)),
        ` · ${a.runs === 1 ? '1 run' : `${a.runs} runs`} · last seen ${dateTime(a.lastSeenAt)} · `, show),
      evidenceList(a.evidence, this.handlers.name),
      this.sides(a),
      this.history(a),
      this.actions(a));
    card.addEventListener('click', (event) => {
      if (!(event.target as HTMLElement).closest('button, textarea, form, summary, a')) this.handlers.onSelect(a);
    });
    return card;
  }

  private sides(a: Alert): HTMLElement {
    const rows = a.sides.map((s) => el('tr', {},
      el('th', { scope: 'row' }, this.handlers.name(s.useCase), el('span', { class: 'muted' }, ` ${s.bu}`)),
      el('td', { class: 'num' }, money(s.spend, this.currency)),
      el('td', { class: 'num' }, s.budget === null ? '—' : money(s.budget, this.currency)),
      el('td', { class: 'num' }, percent(s.budgetShare)),
      el('td', {}, s.heavy.join(', ') || '—')));
    return el('table', { class: 'sides' },
      el('thead', {}, el('tr', {}, ...['Side', 'Spend', 'Budget', 'Share', 'Heavy'].map((h, i) => el('th', { scope: 'col', class: i > 0 && i < 4 ? 'num' : undefined }, h)))),
      el('tbody', {}, ...rows));
  }

  private history(a: Alert): HTMLElement {
    const items = a.history.map((t) => el('li', {},
      el('strong', {}, label(t.to)), ` by ${t.by}, ${dateTime(t.at)}`, t.note ? el('q', {}, t.note) : null));
    return el('details', { class: 'history' }, el('summary', {}, `History (${a.history.length})`), el('ol', {}, ...items));
  }

  private actions(a: Alert): HTMLElement {
    const allowed = NEXT[a.status];
    if (!this.canAct) return el('p', { class: 'muted small' }, 'Read-only: your role can view alerts but not act on them.');
    if (allowed.length === 0) return el('p', { class: 'muted small' }, 'Resolved: no further action.');
    const noteId = `note-${a.id}`;
    const note = el('textarea', { id: noteId, name: 'note', rows: 2, placeholder: 'What was decided, and by whom (required to escalate or resolve)' });
    const error = el('p', { class: 'error', role: 'alert', hidden: true });
    const buttons = allowed.map((action) => {
      const b = el('button', { type: 'button', class: action === 'acknowledge' ? 'primary' : 'secondary', 'data-action': action }, ACTION_TEXT[action]);
      b.addEventListener('click', () => void this.act(a, action, note, error, buttons));
      return b;
    });
    return el('form', { class: 'actions', 'aria-label': 'Act on this alert' },
      el('label', { for: noteId }, 'Note'), note, el('div', { class: 'buttons' }, ...buttons), error);
  }

  private async act(a: Alert, action: AlertAction, note: HTMLTextAreaElement, error: HTMLElement, buttons: HTMLButtonElement[]): Promise<void> {
    const text = note.value.trim();
    if (action !== 'acknowledge' && !text) {
      showError(error, `Add a note to ${action} this alert.`);
      note.focus();
      return;
    }
    showError(error, null);
    for (const b of buttons) b.disabled = true;
    try {
      await this.handlers.onAction(a, action, text);
    } catch (err) {
      showError(error, describeError(err));
      for (const b of buttons) b.disabled = false;
    }
  }
}
