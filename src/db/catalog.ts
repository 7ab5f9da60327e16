import type { Db } from './knex.js';

export type BusinessUnitRow = {
  id: string; name: string; owner_name: string; owner_email: string; owner_webhook_url?: string | null;
  finance_name: string; finance_email: string; finance_webhook_url?: string | null;
};
export type UseCaseRow = {
  id: string; bu_id: string; name: string; class: string; owner_name: string; owner_email: string;
  owner_webhook_url?: string | null; outcome_metric?: string | null; outcome_unit?: string | null;
};
export type ModelRow = { id: string; provider_id: string; family: string; display_name: string };
export type AgentRow = { id: string; bu_id: string; name: string; status: string };
export type LadderRow = { model_id: string; cheaper_model_id: string };

export type CatalogSnapshot = {
  businessUnits: BusinessUnitRow[];
  useCases: UseCaseRow[];
  models: ModelRow[];
  agents: (AgentRow & { use_cases: string[]; models: string[] })[];
  ladder: LadderRow[];
};

export async function loadCatalog(db: Db): Promise<CatalogSnapshot> {
  const [businessUnits, useCases, models, agents, agentUseCases, agentModels, ladder] = await Promise.all([
    db<BusinessUnitRow>('business_units').select('*').orderBy('id'),
    db<UseCaseRow>('use_cases').select('*').orderBy('id'),
    db<ModelRow>('models').select('*').orderBy('id'),
    db<AgentRow>('agents').select('id', 'bu_id', 'name', 'status').orderBy('id'),
    db('agent_use_cases').select('agent_id', 'use_case_id'),
    db('agent_models').select('agent_id', 'model_id'),
    db<LadderRow>('downgrade_ladder').select('model_id', 'cheaper_model_id'),
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
  };
}

export async function isCatalogEmpty(db: Db): Promise<boolean> {
  const row = await db('business_units').count<{ n: string | number }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0) === 0;
}
