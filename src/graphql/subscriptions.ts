import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import mercurius from 'mercurius';
import { budgetBu } from '../db/budget-views.js';
import { listenTierEvents, type TierEventMessage } from '../db/tier-channel.js';
import type { BudgetScope } from '../policy/types.js';
import { ACCESS_RULES, authorize, scopeFor, type Caller } from './access.js';
import { callerOfAuthorization } from './caller.js';
import type { GqlContext } from './context.js';
import { AnalyticsError } from './errors.js';

/**
 * GraphQL subscriptions over WebSocket (graphql-ws / subscriptions-transport-ws, as mercurius serves them).
 * The API token travels in the connection_init payload (`{ "authorization": "Bearer tga_…" }`; browsers
 * cannot set headers on a WebSocket). Tier events reach this replica's pubsub from Postgres
 * LISTEN/NOTIFY, so a subscriber sees the events every replica's metering writer records.
 */

export const TIER_EVENTS_TOPIC = 'BUDGET_TIER_EVENTS';

type InitPayload = { authorization?: unknown; Authorization?: unknown; headers?: { authorization?: unknown; Authorization?: unknown } } | null | undefined;

function callerOf(db: Knex, payload: InitPayload): Promise<Caller | null> {
  return callerOfAuthorization(db, payload?.authorization ?? payload?.Authorization ?? payload?.headers?.authorization ?? payload?.headers?.Authorization);
}

/** mercurius' `subscription` option: a connection without a valid token is refused at connection_init. */
export function subscriptionOptions(db: Knex, timeoutMs: number) {
  return {
    onConnect: async (data: { payload: InitPayload }) => {
      const caller = await callerOf(db, data.payload);
      return caller ? { caller, db, timeoutMs } : false;
    },
  };
}

type Args = { filter?: { bu?: string | null; useCase?: string | null } | null };
type Payload = { budgetTierEvents: TierEventMessage };

async function subscribe(_: unknown, args: Args, ctx: GqlContext) {
  const caller = authorize(ctx.caller, 'budgets');
  scopeFor(caller, args.filter?.bu);
  if (args.filter?.useCase) {
    const bu = await budgetBu(ctx.db, 'use_case', args.filter.useCase);
    if (!bu) throw new AnalyticsError('BAD_USER_INPUT', `unknown use case "${args.filter.useCase}"`);
    scopeFor(caller, bu);
  }
  return ctx.pubsub.subscribe(TIER_EVENTS_TOPIC);
}

/** The same rules as the budgets query: a BU owner gets its BU's events only, the council use case and BU ones. */
export function mayReceive(caller: Caller, m: TierEventMessage, filter: Args['filter']): boolean {
  const rule = ACCESS_RULES[caller.role];
  if (rule.scope === 'own-bu' && m.bu !== caller.buId) return false;
  if (!rule.budgetScopes.includes(m.scope as BudgetScope)) return false;
  if (filter?.bu && m.bu !== filter.bu) return false;
  return !filter?.useCase || m.use_case === filter.useCase;
}

export const budgetTierEventsSubscription = {
  subscribe: mercurius.withFilter<Payload, unknown, GqlContext, Args>(
    subscribe,
    (payload, args, ctx) => ctx.caller !== null && mayReceive(ctx.caller, payload.budgetTierEvents, args.filter),
  ),
};

/** Relays this database's tier event notifications into mercurius' pubsub until the app closes. */
export async function startTierEventRelay(app: FastifyInstance, db: Knex): Promise<void> {
  const stop = await listenTierEvents(db, (m) => {
    void app.graphql.pubsub.publish({ topic: TIER_EVENTS_TOPIC, payload: { budgetTierEvents: m } });
  }, app.log);
  app.addHook('onClose', async () => stop().catch(() => undefined));
}
