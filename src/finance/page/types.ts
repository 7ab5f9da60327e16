/** The API's shapes as the finance page asks for them (schema/tollgate.graphql). Money and decimals are strings. */

export type Viewer = { role: 'FINANCE' | 'ADMIN' | 'COUNCIL' | 'BU_OWNER'; bu: string | null };

export type Catalog = {
  businessUnits: { id: string; name: string }[];
  useCases: { id: string; name: string; bu: { id: string } | null; outcomeMetric: string | null; outcomeUnit: string | null }[];
};

export type SpendRow = {
  key: { day: string; bu: string; useCase: string };
  calls: string; cost: string; inputTokens: string; cachedInputTokens: string; cacheWriteTokens: string; outputTokens: string;
};
export type Spend = {
  currency: string; from: string; to: string;
  totals: { cost: string; calls: string };
  rows: SpendRow[];
  denied: { calls: string; byCode: { code: string; calls: string }[] };
};

export type Tier = 'NONE' | 'OK' | 'NOTICE' | 'WARNING' | 'SOFT_CAP' | 'HARD_CAP' | 'UNKNOWN';
export type Budget = {
  id: string; scope: string; scopeId: string; bu: string | null; useCase: string | null; unit: 'USD' | 'TOKENS'; currency: string | null;
  period: string; periodStart: string; periodEnd: string; limit: string | null; spent: string | null; reserved: string | null;
  ratio: string | null; tier: Tier; tierLines: { tier: Tier; ratio: string }[];
  forecast: { projectedSpend: string | null; projectedRatio: string | null; projectedTier: Tier; exhaustsAt: string | null; method: string } | null;
};

export type Downgrades = {
  currency: string; calls: string; billed: string; atRequestedPrice: string; saved: string; unpricedCalls: string;
  rows: { bu: string; useCase: string; modelRequested: string; modelServed: string; calls: string; billed: string; atRequestedPrice: string | null; saved: string | null }[];
};

export type SessionSummary = { id: string; calls: string; tokens: string; cost: string; agents: number; businessUnits: number; startedAt: string; endedAt: string };

export type Denial = { ts: string; code: string; buId: string | null; useCaseId: string | null; agentId: string | null; model: string | null };

export type CostPerOutcome = { useCase: string; metric: string | null; unit: string | null; ratio: string | null; cost: string; reason: string | null };
