import type { Knex } from 'knex';
import { authorize, canSee, requireCaller, scopeFor, type Caller } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';

/**
 * The catalog (BUs, use cases, agents, models) and the loaders every relation goes through: one query per
 * relation per request, whatever the number of parents, each limited to the caller's BU in SQL.
 */

type Row = Record<string, unknown> & { id: string };
type Query<P> = { obj: P; params: unknown };

const BU_COLUMNS = ['id', 'name'];
const USE_CASE_COLUMNS = ['id', 'bu_id', 'name', 'class', 'outcome_metric', 'outcome_unit'];
const AGENT_COLUMNS = ['id', 'bu_id', 'name', 'status'];

/** Rows of `table` by id, limited to the caller's BU; ids the caller may not see resolve to null. */
async function byIds(ctx: GqlContext, table: string, columns: string[], buColumn: string, ids: (string | null | undefined)[]): Promise<(Row | null)[]> {
  const caller = requireCaller(ctx.caller);
  const wanted = [...new Set(ids.filter((id): id is string => Boolean(id)))];
  if (wanted.length === 0) return ids.map(() => null);
  const scope = scopeFor(caller);
  const rows = await withTimeout(ctx, () => {
    const q = ctx.db(table).select(columns).whereIn('id', wanted);
    if (scope.buId !== undefined) q.andWhere(buColumn, scope.buId);
    return q as Promise<Row[]>;
  });
  const found = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => (id ? found.get(id) ?? null : null));
}

function relation<P>(table: string, columns: string[], buColumn: string, idOf: (p: P) => string | null | undefined, capability: 'catalog' | 'agents' = 'catalog') {
  return async (queries: Query<P>[], ctx: GqlContext) => {
    if (!canSee(requireCaller(ctx.caller), capability)) return queries.map(() => null);
    return byIds(ctx, table, columns, buColumn, queries.map((q) => idOf(q.obj)));
  };
}

export const buOf = <P>(idOf: (p: P) => string | null | undefined) => relation('business_units', BU_COLUMNS, 'id', idOf);
export const useCaseOf = <P>(idOf: (p: P) => string | null | undefined) => relation('use_cases', USE_CASE_COLUMNS, 'bu_id', idOf);
export const agentOf = <P>(idOf: (p: P) => string | null | undefined) => relation('agents', AGENT_COLUMNS, 'bu_id', idOf, 'agents');

export const catalogLoaders = {
  BusinessUnit: {
    useCases: async (queries: Query<{ id: string }>[], ctx: GqlContext) => {
      const caller = authorize(ctx.caller, 'catalog');
      const buIds = queries.map((q) => q.obj.id);
      const rows = await withTimeout(ctx, () => scoped(ctx.db('use_cases').select(USE_CASE_COLUMNS).whereIn('bu_id', buIds).orderBy('id'), caller, 'bu_id'));
      return buIds.map((id) => rows.filter((r) => r.bu_id === id));
    },
  },
  UseCase: { bu: buOf<{ bu_id: string }>((u) => u.bu_id) },
  Agent: { bu: buOf<{ bu_id: string }>((a) => a.bu_id) },
};

function scoped(q: Knex.QueryBuilder, caller: Caller, buColumn: string, requestedBu?: string | null): Promise<Row[]> {
  const scope = scopeFor(caller, requestedBu);
  if (scope.buId !== undefined) q.andWhere(buColumn, scope.buId);
  return q as unknown as Promise<Row[]>;
}

export const catalogResolvers = {
  Query: {
    viewer: (_: unknown, __: unknown, ctx: GqlContext) => {
      const c = requireCaller(ctx.caller);
      return { role: c.role.toUpperCase().replace('-', '_'), bu: c.buId };
    },
    businessUnits: (_: unknown, __: unknown, ctx: GqlContext) =>
      withTimeout(ctx, () => scoped(ctx.db('business_units').select(BU_COLUMNS).orderBy('id'), authorize(ctx.caller, 'catalog'), 'id')),
    useCases: (_: unknown, args: { bu?: string | null }, ctx: GqlContext) =>
      withTimeout(ctx, () => scoped(ctx.db('use_cases').select(USE_CASE_COLUMNS).orderBy('id'), authorize(ctx.caller, 'catalog'), 'bu_id', args.bu)),
    agents: (_: unknown, args: { bu?: string | null }, ctx: GqlContext) =>
      withTimeout(ctx, () => scoped(ctx.db('agents').select(AGENT_COLUMNS).orderBy('id'), authorize(ctx.caller, 'agents'), 'bu_id', args.bu)),
    models: (_: unknown, __: unknown, ctx: GqlContext) => {
      authorize(ctx.caller, 'catalog');
      return withTimeout(ctx, () => ctx.db('models').select('id', 'provider_id as provider', 'family', 'display_name as displayName').orderBy('id'));
    },
  },
  UseCase: {
    outcomeMetric: (u: Row) => u.outcome_metric ?? null,
    outcomeUnit: (u: Row) => u.outcome_unit ?? null,
  },
};
