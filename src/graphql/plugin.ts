import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import mercurius from 'mercurius';
import type { Knex } from 'knex';
import { callerFrom } from './caller.js';
import type { GqlContext } from './context.js';
import { assertDocumentLimits, assertTokenLimit } from './document-limits.js';
import { AnalyticsError, formatErrors } from './errors.js';
import { assertComplexity, assertValidSubscription, depthLimit, LIMITS } from './limits.js';
import { loaders, resolvers } from './resolvers/index.js';
import { startTierEventRelay, subscriptionOptions } from './subscriptions.js';

/** schema/ sits beside src/ and dist/, one level above this file's folder in both. */
export const SCHEMA_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/tollgate.graphql');

export type GraphqlOptions = {
  db: Knex; graphiql?: boolean; limits?: Partial<typeof LIMITS>;
  /** After a budget mutation: this replica applies the change before the mutation answers (its budget leases). */
  budgetsChanged?: () => Promise<void>;
};

/**
 * mercurius on tollgate's Fastify, SDL from schema/. Registered in its own encapsulated context: mercurius
 * sets an error handler that answers in GraphQL's shape, which must not reach the gateway's routes.
 */
export async function graphqlPlugin(app: FastifyInstance, opts: GraphqlOptions): Promise<void> {
  const limits = { ...LIMITS, ...opts.limits };
  // mercurius registers @fastify/websocket itself, with a 1 MiB message limit, unless it is already there.
  await app.register(websocket, { options: { maxPayload: limits.maxBodyBytes } });
  await app.register(mercurius, {
    schema: fs.readFileSync(SCHEMA_PATH, 'utf8'),
    resolvers: resolvers as mercurius.IResolvers,
    loaders: loaders as mercurius.MercuriusLoaders,
    jit: 1,
    graphiql: opts.graphiql ?? process.env.NODE_ENV !== 'production',
    validationRules: [depthLimit(limits.maxDepth)],
    graphql: { parseOptions: { maxTokens: limits.maxTokens } },
    additionalRouteOptions: { bodyLimit: limits.maxBodyBytes },
    errorFormatter: formatErrors,
    context: async (request): Promise<Partial<GqlContext>> => ({ caller: await callerFrom(opts.db, request), db: opts.db, timeoutMs: limits.timeoutMs, budgetsChanged: opts.budgetsChanged }),
    subscription: subscriptionOptions(opts.db, limits.timeoutMs),
  });
  await startTierEventRelay(app, opts.db);
  // Before parsing: an anonymous caller learns nothing, not even whether its query is valid.
  app.graphql.addHook('preParsing', async (_schema, _source, context) => {
    if (!(context as GqlContext).caller) throw new AnalyticsError('UNAUTHENTICATED');
  });
  app.graphql.addHook('preValidation', async (_schema, document) => {
    assertDocumentLimits(document, limits);
  });
  app.graphql.addHook('preExecution', async (schema, document, _context, variables) => {
    assertComplexity(schema, document, variables as Record<string, unknown> | undefined, limits.maxComplexity);
  });
  app.graphql.addHook('preSubscriptionParsing', async (_schema, source) => {
    assertTokenLimit(source, limits.maxTokens);
  });
  app.graphql.addHook('preSubscriptionExecution', async (schema, document) => {
    assertValidSubscription(schema, document, limits);
  });
}
