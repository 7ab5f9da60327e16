/** The page's GraphQL documents, one per section so that one failing section leaves the others working. */

export const VIEWER = '{ viewer { role bu } }';

export const ADJACENCY = `query Adjacency($period: String) {
  adjacency(period: $period) {
    currency
    run { id period finishedAt triggeredBy }
    nodes { id bu class spend community x y useCase { name } }
    edges { source target sourceBu targetBu weight signals { classCoupling sharedTools interactions leadLag } fired evidence }
    communities { id useCases bus spend }
  }
}`;

export const ALERTS = `query Alerts($period: String) {
  adjacencyAlerts(filter: { period: $period }, first: 50) {
    id key period status pair bus weight signals evidence firstSeenAt lastSeenAt runs
    sides { useCase bu spend heavy budget budgetShare }
    history { from to by at note }
  }
}`;

export const ALERT_ACTIONS = {
  acknowledge: 'mutation Acknowledge($id: ID!, $note: String) { acknowledgeAlert(id: $id, note: $note) { id status } }',
  escalate: 'mutation Escalate($id: ID!, $note: String!) { escalateAlert(id: $id, note: $note) { id status } }',
  resolve: 'mutation Resolve($id: ID!, $note: String!) { resolveAlert(id: $id, note: $note) { id status } }',
} as const;

export const RUN_ADJACENCY = 'mutation Run($period: String) { runAdjacency(period: $period) { id alertsRaised } }';

export const SPEND = `query Spend($period: String!) {
  chargeback(period: $period, groupBy: [BU, USE_CASE]) {
    currency
    totals { cost calls }
    rows { key { bu useCase } calls cost share useCase { name } businessUnit { name } }
  }
}`;

export const BUDGETS = `query Budgets($at: DateTime) {
  budgets(at: $at) { id scope scopeId bu useCase unit currency period limit spent reserved ratio tier }
}`;

export const SHADOW = `query Shadow($period: String!) {
  shadowSpend(period: $period, groupBy: [PROVIDER, MODEL, KEY]) {
    currency
    rows { key { provider model apiKeyId } tollgateKey reported metered difference }
    totals { reported metered difference bypass meteringGap }
    coveredDays { provider day }
    notices { provider day difference delivery { status } }
  }
}`;
