import type { Knex } from 'knex';
import type { Db } from './knex.js';

export type BusinessUnitRow = {
  id: string; name: string; owner_name: string; owner_email: string; owner_webhook_url?: string | null;
  finance_name: string; finance_email: string; finance_webhook_url?: string | null;
};
export type UseCaseRow = {
  id: string; bu_id: string; name: string; class: string; owner_name: string; owner_email: string;
  owner_webhook_url?: string | null; outcome_metric?: string | null; outcome_unit?: string | null;
};
/** canonical_model_id, vendor_model_id: migration 040 (one model on several vendors). */
export type ModelRow = {
  id: string; provider_id: string; family: string; display_name: string; canonical_model_id?: string | null; vendor_model_id?: string | null;
};
export type AgentRow = { id: string; bu_id: string; name: string; status: string };
export type LadderRow = { model_id: string; cheaper_model_id: string };
/** An alias or dated snapshot of a catalog model, as one provider names it. */
export type AliasRow = { provider_id: string; alias: string; model_id: string };
/** Two use-case classes the catalog declares coupled (undirected), weight in (0, 1]. */
export type ClassCoupling = { from: string; to: string; weight: number };
/** The governance council's contact, configured like a BU's owner or finance partner. */
export type CouncilContact = { name: string; email: string; webhook_url: string | null };

export type CatalogSnapshot = {
  businessUnits: BusinessUnitRow[];
  useCases: UseCaseRow[];
  models: ModelRow[];
  agents: (AgentRow & { use_cases: string[]; models: string[] })[];
  ladder: LadderRow[];
  aliases: AliasRow[];
  classCouplings: ClassCoupling[];
  council: CouncilContact | null;
};

export async function loadCatalog(db: Db): Promise<CatalogSnapshot> {
  const [businessUnits, useCases, models, agents, agentUseCases, agentModels, ladder, aliases, classCouplings, council] = await Promise.all([
    db<BusinessUnitRow>('business_units').select('*').orderBy('id'),
    db<UseCaseRow>('use_cases').select('*').orderBy('id'),
    db<ModelRow>('models').select('*').orderBy('id'),
    db<AgentRow>('agents').select('id', 'bu_id', 'name', 'status').orderBy('id'),
    db('agent_use_cases').select('agent_id', 'use_case_id'),
    db('agent_models').select('agent_id', 'model_id'),
    db<LadderRow>('downgrade_ladder').select('model_id', 'cheaper_model_id'),
    loadAliases(db),
    loadClassCouplings(db),
    loadCouncil(db),
  ]);
  const grouped = (rows: Record<string, string>[], key: string) => {
    const m = new Map<string, string[]>();
    for (const r of rows) m.set(r.agent_id!, [...(m.get(r.agent_id!) ?? []), r[key]!]);
    return m;
  };
  const ucByAgent = grouped(agentUseCases, 'use_case_id');
  const modelsByAgent = grouped(agentModels, 'model_id');
  return {
    businessUnits,
    useCases,
    models,
    agents: agents.map((a) => ({ ...a, use_cases: ucByAgent.get(a.id) ?? [], models: modelsByAgent.get(a.id) ?? [] })),
    ladder,
    aliases,
    classCouplings,
    council,
  };
}

export async function loadAliases(db: Db | Knex.Transaction): Promise<AliasRow[]> {
  return db<AliasRow>('model_aliases').select('provider_id', 'alias', 'model_id').orderBy(['provider_id', 'alias']);
}

/** Adds aliases or points them at another model; an alias is never removed by a seed or an import. */
export async function upsertAliases(db: Db | Knex.Transaction, rows: readonly AliasRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db('model_aliases').insert(rows).onConflict(['provider_id', 'alias']).merge(['model_id']);
}

export async function loadClassCouplings(db: Db | Knex.Transaction): Promise<ClassCoupling[]> {
  const rows = (await db('class_couplings').select('from_class', 'to_class', db.raw('weight::float8 as weight')).orderBy(['from_class', 'to_class'])) as
    { from_class: string; to_class: string; weight: number }[];
  return rows.map((r) => ({ from: r.from_class, to: r.to_class, weight: Number(r.weight) }));
}

export async function loadCouncil(db: Db | Knex.Transaction): Promise<CouncilContact | null> {
  const row = (await db('council').first('name', 'email', 'webhook_url')) as CouncilContact | undefined;
  return row ? { name: row.name, email: row.email, webhook_url: row.webhook_url ?? null } : null;
}

/** The catalog's couplings become exactly `couplings` (a seed is the whole list, not a patch). */
export async function replaceClassCouplings(trx: Knex.Transaction, couplings: readonly { from: string; to: string; weight?: number }[]): Promise<void> {
  await trx('class_couplings').delete();
  if (couplings.length === 0) return;
  const rows = new Map(couplings.map((c) => [[c.from, c.to].sort().join('\u0000'), { from_class: c.from, to_class: c.to, weight: c.weight ?? 1 }]));
  await trx('class_couplings').insert([...rows.values()]);
}

export async function upsertCouncil(db: Db | Knex.Transaction, c: { name: string; email: string; webhook_url?: string | null }): Promise<void> {
  await db('council').insert({ id: 'council', name: c.name, email: c.email, webhook_url: c.webhook_url ?? null }).onConflict('id').merge();
}

export async function isCatalogEmpty(db: Db): Promise<boolean> {
  const row = await db('business_units').count<{ n: string | number }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0) === 0;
}
