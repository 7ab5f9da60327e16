/** The finance page's GraphQL documents, one per panel so that one failing panel leaves the others working. */

export const VIEWER = '{ viewer { role bu } }';

export const CATALOG = '{ businessUnits { id name } useCases { id name bu { id } outcomeMetric outcomeUnit } }';

export const SPEND = `query Spend($period: String!) {
  chargeback(period: $period, groupBy: [DAY, BU, USE_CASE]) {
    currency from to
    totals { cost calls }
    rows { key { day bu useCase } calls cost inputTokens cachedInputTokens cacheWriteTokens outputTokens }
    denied { calls byCode { code calls } }
  }
}`;

export const BUDGETS = `query Budgets($at: DateTime) {
  budgets(at: $at) {
    id scope scopeId bu useCase unit currency period periodStart periodEnd limit spent reserved ratio tier
    tierLines { tier ratio }
    forecast { projectedSpend projectedRatio projectedTier exhaustsAt method }
  }
}`;

export const DOWNGRADES = `query Downgrades($period: String!) {
  downgrades(period: $period) {
    currency calls billed atRequestedPrice saved unpricedCalls
    rows { bu useCase modelRequested modelServed calls billed atRequestedPrice saved }
  }
}`;

export const SESSIONS = `query Sessions($period: String!) {
  topSessions(period: $period, limit: 8) { id calls tokens cost agents businessUnits startedAt endedAt }
}`;

export const DECISIONS = `query Decisions($from: DateTime!, $to: DateTime!) {
  decisions(filter: { from: $from, to: $to }, first: 6) { nodes { ts code buId useCaseId agentId model } }
}`;

/** Cost per outcome of several months in one request: one aliased field per month. */
export function outcomesQuery(months: readonly string[]): string {
  const fields = months.map((m, i) => `m${i}: costPerOutcomes(period: "${m}") { useCase metric unit ratio cost reason }`);
  return `{ ${fields.join(' ')} }`;
}
