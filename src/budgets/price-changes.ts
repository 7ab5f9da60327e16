import type { Knex } from 'knex';
import { periodEnd, type Thresholds } from '../analytics/forecast.js';
import { listBudgetViews, type BudgetView } from '../db/budget-views.js';
import type { Db } from '../db/knex.js';
import { loadBudgetContacts } from '../db/notifications.js';
import type { PriceVersion } from '../db/price-book.js';
import { claimChange, countReforecast, dueChanges, insertReforecast, insertReforecastOutbox, scopeTokens, type DueChange } from '../db/reforecasts.js';
import { rounds, type Rounds } from '../ops/rounds.js';
import { reforecast, usd, type Reforecast } from './reforecast.js';

/**
 * When a price change takes effect, every money budget whose current period it falls in is re-forecast at the
 * new prices; an owner whose forecast now reaches a higher tier is told once, through the outbox, with the old
 * and new forecast and the change that moved it. It runs at import (for changes already in force) and on a
 * timer (for future-dated ones, once their time comes). Exactly once across replicas: a change is claimed in
 * price_changes_applied in the same transaction as its notices, so a second replica finds it claimed, and a
 * replica that dies mid-way leaves nothing claimed.
 */

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void };

export type ApplyResult = { applied: number; notices: number };

const BATCH = 50;

export async function applyDuePriceChanges(db: Db, opts: { now?: Date; thresholds: Thresholds | null; log?: Log }): Promise<ApplyResult> {
  const now = opts.now ?? new Date();
  const total: ApplyResult = { applied: 0, notices: 0 };
  for (;;) {
    const due = await dueChanges(db, now, BATCH);
    if (due.length === 0) return total;
    for (const change of due) {
      const notices = await db.transaction(async (trx) => (await claimChange(trx, change.price.id) ? applyOne(trx, change, now, opts.thresholds) : null));
      if (notices === null) continue;
      total.applied++;
      total.notices += notices;
      if (notices > 0) opts.log?.info({ price_id: change.price.id, model: change.price.model_id, notices }, 'price change re-forecast budgets across a tier');
    }
  }
}

/**
 * Only a standard-tier change that replaced a price, taking effect inside a budget's current period, moves a
 * forecast: a first price has nothing to compare with, and tier-specific usage is not in the rollups.
 */
async function applyOne(trx: Knex.Transaction, change: DueChange, now: Date, thresholds: Thresholds | null): Promise<number> {
  const { price, previous } = change;
  if (!previous || (price.service_tier ?? 'standard') !== 'standard') return 0;
  const budgets = (await listBudgetViews(trx, now, { scopes: ['use_case', 'bu', 'agent'] }))
    .filter((b) => b.unit === 'usd' && b.limit_amount !== null && b.period_start.getTime() < new Date(price.effective_from).getTime());
  let notices = 0;
  const contacts = await loadBudgetContacts(trx, budgets.map((b) => b.id));
  for (const b of budgets) {
    const end = periodEnd(b.period, b.period_start);
    const tokens = await scopeTokens(trx, price.model_id, { scope: b.scope as 'use_case' | 'bu' | 'agent', scopeId: b.scope_id }, b.period_start, now);
    if (tokens.input_tokens + tokens.cached_input_tokens + tokens.cache_write_tokens + tokens.output_tokens === 0) continue;
    const r = reforecast({ spent: b.spent, limit: b.limit_amount, periodStart: b.period_start, periodEnd: end, asOf: now, thresholds, tokens, previous, next: price });
    if (!r?.crossed) continue;
    const id = await insertReforecast(trx, {
      budget_id: b.id, period_start: b.period_start, price_id: price.id, previous_price_id: previous.id,
      old_forecast: r.oldForecast, new_forecast: r.newForecast, old_tier: r.oldTier, new_tier: r.newTier, as_of: now,
    });
    if (id === null) continue;
    const owner = contacts.get(b.id)?.owner ?? { url: null, email: null };
    await insertReforecastOutbox(trx, { reforecast_id: id, target_url: owner.url, email: owner.email, payload: payloadOf(id, b, end, r, price, previous, now) });
    notices++;
  }
  await countReforecast(trx, price.id, notices);
  return notices;
}

/** Slack-compatible (`text` + `blocks`) with the structured re-forecast under `tollgate`, like tier notices. */
export function payloadOf(id: number, b: BudgetView, end: Date, r: Reforecast, price: PriceVersion, previous: PriceVersion, now: Date) {
  const subject = b.scope === 'use_case' ? `use case ${b.scope_id}` : b.scope === 'bu' ? `business unit ${b.scope_id}` : `agent ${b.scope_id}`;
  const text = `:chart_with_upwards_trend: Budget forecast moved by a price change — ${subject}: the forecast to ${end.toISOString().slice(0, 10)} `
    + `went from ${usd(r.oldForecast)} (${r.oldTier.toLowerCase()}) to ${usd(r.newForecast)} (${r.newTier.toLowerCase()}) against a limit of ${usd(b.limit_amount!)}, `
    + `because ${price.model_id} now costs ${price.input_per_mtok} / ${price.output_per_mtok} USD per million input / output tokens `
    + `(was ${previous.input_per_mtok} / ${previous.output_per_mtok}) from ${new Date(price.effective_from).toISOString()}.`;
  return {
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
    tollgate: {
      kind: 'budget_reforecast',
      reforecast_id: id,
      budget: { id: b.id, scope: b.scope, scope_id: b.scope_id, limit: b.limit_amount, period: b.period, period_start: b.period_start.toISOString(), period_end: end.toISOString() },
      old_forecast: r.oldForecast,
      new_forecast: r.newForecast,
      old_tier: r.oldTier,
      new_tier: r.newTier,
      as_of: now.toISOString(),
      price_change: { model: price.model_id, service_tier: price.service_tier ?? 'standard', effective_from: new Date(price.effective_from).toISOString(), price_id: price.id, previous_price_id: previous.id, previous: kinds(previous), next: kinds(price) },
    },
  };
}

function kinds(p: PriceVersion) {
  return { input_per_mtok: p.input_per_mtok, cached_input_per_mtok: p.cached_input_per_mtok, cache_write_per_mtok: p.cache_write_per_mtok, cache_write_1h_per_mtok: p.cache_write_1h_per_mtok ?? null, output_per_mtok: p.output_per_mtok };
}

/** The scheduled check for price changes whose time has come (future-dated imports). */
export function createReforecastSchedule(o: { db: Db; log: Log; intervalMs: number; thresholds: () => Thresholds | null }): Rounds {
  return rounds({
    intervalMs: o.intervalMs,
    run: () => applyDuePriceChanges(o.db, { thresholds: o.thresholds(), log: o.log }),
    onError: (err) => o.log.warn({ err }, 're-forecast round failed; retrying on the next one'),
  });
}
