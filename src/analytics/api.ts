import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import knexFactory, { type Knex } from 'knex';
import { formatChargeback } from '../cli/reports.js';
import { graphqlPlugin } from '../graphql/plugin.js';
import { callerFrom } from '../graphql/caller.js';
import { chargebackFor } from '../graphql/resolvers/chargeback.js';
import { AnalyticsError, GQL_ERRORS } from '../graphql/errors.js';
import { authorize, checkDimensions, ownBu, type Caller } from '../graphql/access.js';
import { LIMITS } from '../graphql/limits.js';
import type { ChargebackReport } from './chargeback.js';
import { FOCUS_GRAIN } from './focus.js';
import { outcomeRoutes } from './routes.js';
import { focusCsv } from '../db/periods.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The connection pool analytics reads through (its own on Postgres, with a statement timeout). */
    analyticsDb: Knex;
  }
}

/**
 * The analytics side of tollgate: /graphql (and /graphiql outside production) and /v1/reports/*.
 * On Postgres it reads through a pool of its own whose statements time out, so a heavy report can
 * neither hold the gateway's connections nor run forever; PGlite is one process, so it shares the db.
 */
export const analyticsApi = fp(async function analyticsApi(app: FastifyInstance) {
  const { config, db: sharedDb } = app.tollgate;
  const db = config.database.kind === 'postgres'
    ? knexFactory({ client: 'pg', connection: { connectionString: config.database.url, statement_timeout: LIMITS.timeoutMs, application_name: 'tollgate-analytics' }, pool: { min: 0, max: 5 } })
    : sharedDb;
  app.decorate('analyticsDb', db);
  if (db !== sharedDb) app.addHook('onClose', async () => db.destroy());
  // A budget set or extended here is applied by this replica before the mutation answers; other replicas apply
  // it when Postgres' notification reaches them.
  await app.register(graphqlPlugin, { db, budgetsChanged: () => app.tollgate.budgetGate.sync() });
  await app.register(reportRoutes, { db });
  await app.register(outcomeRoutes, { db });
}, { name: 'tollgate-analytics', fastify: '5.x', dependencies: ['tollgate'] });

type ReportQuery = { period?: string; format?: 'csv' | 'json' | 'focus' };

/** GET /v1/reports/chargeback?period=YYYY-MM&format=csv|json: spend per BU × use case, as the CLI prints it. */
async function reportRoutes(app: FastifyInstance, opts: { db: Knex }): Promise<void> {
  app.setErrorHandler(async (err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (err instanceof AnalyticsError) return reply.code(GQL_ERRORS[err.code].status).send({ error: { code: err.code, message: err.message } });
    if (err.validation) return reply.code(400).send({ error: { code: 'BAD_USER_INPUT', message: err.message } });
    request.log.error({ err }, 'report failed');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: GQL_ERRORS.INTERNAL.message } });
  });
  app.get('/v1/reports/chargeback', {
    schema: {
      querystring: {
        type: 'object',
        required: ['period'],
        properties: { period: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' }, format: { type: 'string', enum: ['csv', 'json', 'focus'], default: 'json' } },
        additionalProperties: false,
      },
    },
  }, async (request: FastifyRequest<{ Querystring: ReportQuery }>, reply: FastifyReply) => {
    const caller = authorize(await callerFrom(opts.db, request), 'chargeback');
    const { period, format = 'json' } = request.query;
    if (format === 'focus') return sendFocus(reply, opts.db, caller, period!);
    const report = await chargebackFor(opts.db, caller, { period, groupBy: ['BU', 'USE_CASE'] });
    if (format === 'csv') {
      reply.header('content-disposition', `attachment; filename="chargeback-${period}.csv"`);
      return reply.type('text/csv; charset=utf-8').send(formatChargeback(asLedgerRows(report), 'csv', period!));
    }
    return reply.send({ period, currency: report.currency, from: report.from, to: report.to, rows: report.rows, totals: report.totals, denied: report.denied });
  });
}

/**
 * The FOCUS file of an accounting period (a BU owner: its BU's rows, filtered in the query). Its rows are at
 * the ledger's grain (agent, models, provider: FOCUS' SKU and service columns name them), so a role that may
 * not break spend down that way (the council) is refused rather than sent a file with columns blanked.
 */
async function sendFocus(reply: FastifyReply, db: Knex, caller: Caller, period: string) {
  checkDimensions(caller, FOCUS_GRAIN, 'read the FOCUS file, whose rows are broken down by');
  const csv = await focusCsv(db, period, { buId: ownBu(caller) });
  reply.header('content-disposition', `attachment; filename="focus-${period}.csv"`);
  return reply.type('text/csv; charset=utf-8').send(csv);
}

/** The CLI's row shape (its CSV columns), so both print the same file for the same month. */
function asLedgerRows(report: ChargebackReport): Parameters<typeof formatChargeback>[0] {
  return report.rows.map((r) => ({
    bu_id: r.key.bu!, use_case_id: r.key.useCase!,
    // The CLI types counts as numbers; CSV prints them with String(), so the exact text passes through.
    calls: r.calls, input_tokens: r.inputTokens, cached_input_tokens: r.cachedInputTokens,
    cache_write_tokens: r.cacheWriteTokens, output_tokens: r.outputTokens, cost: r.cost,
  })) as unknown as Parameters<typeof formatChargeback>[0];
}
