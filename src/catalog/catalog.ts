import type { Db } from '../db/knex.js';
import { loadCatalog, type CatalogSnapshot } from '../db/catalog.js';
import type { CatalogFact, TagsFact } from '../policy/types.js';

type Log = { warn(obj: object, msg: string): void };

type Index = {
  bus: Map<string, CatalogSnapshot['businessUnits'][number]>;
  useCases: Map<string, CatalogSnapshot['useCases'][number]>;
  agents: Map<string, CatalogSnapshot['agents'][number]>;
  models: Map<string, CatalogSnapshot['models'][number]>;
  cheaper: Map<string, string>;
  /** provider → alias or dated snapshot → catalog model id. */
  aliases: Map<string, Map<string, string>>;
};

/** The agent catalog, held in memory and re-read periodically; the database stays the source of truth. */
export class Catalog {
  private index: Index = emptyIndex();
  private timer?: NodeJS.Timeout;

  constructor(private readonly db: Db, private readonly log?: Log) {}

  async refresh(): Promise<void> {
    this.index = buildIndex(await loadCatalog(this.db));
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.log?.warn({ err }, 'catalog refresh failed; keeping the last snapshot'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * The catalog model a call names: the id itself when the catalog has it, else the model it is an alias or
   * dated snapshot of at this provider, else the id as sent (the policy then finds it unknown, or another
   * provider's). A vendor's alias wins over another vendor's model of that name: `gpt-4.1` on /azure is the Azure
   * deployment of that name, not OpenAI's gpt-4.1.
   */
  modelId(provider: string, sent: string): string {
    if (this.index.models.get(sent)?.provider_id === provider) return sent;
    return this.index.aliases.get(provider)?.get(sent) ?? sent;
  }

  /** The id the model's vendor takes for it when tollgate picks it (a downgrade): an Azure deployment, else the catalog id. */
  upstreamId(modelId: string): string {
    return this.index.models.get(modelId)?.vendor_model_id ?? modelId;
  }

  /** The catalog slice the policy needs for one call (`model`: the catalog model, see modelId). */
  facts(tags: TagsFact, identityAgentId: string | undefined, model: string | undefined): CatalogFact {
    const { bus, useCases, agents, models, cheaper } = this.index;
    const bu = tags.bu ? bus.get(tags.bu) : undefined;
    const uc = tags.use_case ? useCases.get(tags.use_case) : undefined;
    const agentId = identityAgentId ?? tags.agent_id;
    const agent = agentId ? agents.get(agentId) : undefined;
    const m = model ? models.get(model) : undefined;
    const cheaperId = m ? cheaper.get(m.id) : undefined;
    const c = cheaperId ? models.get(cheaperId) : undefined;
    return {
      bu: bu ? { id: bu.id } : null,
      use_case: uc ? { id: uc.id, bu_id: uc.bu_id, class: uc.class } : null,
      agent: agent
        ? { id: agent.id, bu_id: agent.bu_id, status: agent.status, use_cases: agent.use_cases, models: agent.models }
        : null,
      model: m ? modelFact(m) : null,
      cheaper_model: c ? modelFact(c) : null,
    };
  }

}

/** A model for the policy: its provider, and the canonical model it is on that vendor when it is one. */
function modelFact(m: CatalogSnapshot['models'][number]): { id: string; provider: string; canonical?: string } {
  return m.canonical_model_id ? { id: m.id, provider: m.provider_id, canonical: m.canonical_model_id } : { id: m.id, provider: m.provider_id };
}

function emptyIndex(): Index {
  return { bus: new Map(), useCases: new Map(), agents: new Map(), models: new Map(), cheaper: new Map(), aliases: new Map() };
}

function buildIndex(s: CatalogSnapshot): Index {
  return {
    bus: new Map(s.businessUnits.map((b) => [b.id, b])),
    useCases: new Map(s.useCases.map((u) => [u.id, u])),
    agents: new Map(s.agents.map((a) => [a.id, a])),
    models: new Map(s.models.map((m) => [m.id, m])),
    cheaper: new Map(s.ladder.map((l) => [l.model_id, l.cheaper_model_id])),
    aliases: aliasIndex(s.aliases),
  };
}

function aliasIndex(rows: CatalogSnapshot['aliases']): Index['aliases'] {
  const byProvider = new Map<string, Map<string, string>>();
  for (const a of rows) byProvider.set(a.provider_id, (byProvider.get(a.provider_id) ?? new Map<string, string>()).set(a.alias, a.model_id));
  return byProvider;
}
