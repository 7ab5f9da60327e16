/** The API's shapes as the page asks for them (schema/tollgate.graphql). Money and decimals are strings. */

export type Signals = { classCoupling: number; sharedTools: number; interactions: number; leadLag: number };

/** The `evidence` JSON of an edge or alert (src/adjacency/types.ts: PairEvidence); every part optional. */
export type Evidence = {
  classCoupling?: { classes: [string, string]; weight: number };
  sharedTools?: { tools: string[]; overlap: number };
  interactions?: { sessions: number; calls: number; weight: number };
  leadLag?: { leader: string; follower: string; lagDays: number; r: number; p: number | null; pFamily?: number; significant?: boolean };
};

export type AdjacencyNode = { id: string; bu: string; class: string; spend: string; community: number | null; x: number; y: number; useCase: { name: string } | null };
export type AdjacencyEdge = {
  source: string; target: string; sourceBu: string; targetBu: string; weight: number; signals: Signals; fired: string[]; evidence: Evidence;
};
export type AdjacencyCommunity = { id: number; useCases: string[]; bus: string[]; spend: string };
export type AdjacencyGraph = {
  currency: string;
  run: { id: string; period: string | null; finishedAt: string; triggeredBy: string };
  nodes: AdjacencyNode[];
  edges: AdjacencyEdge[];
  communities: AdjacencyCommunity[];
};

export type AlertStatus = 'OPEN' | 'ACKNOWLEDGED' | 'ESCALATED' | 'RESOLVED';
export type AlertSide = { useCase: string; bu: string; spend: string; heavy: string[]; budget: string | null; budgetShare: number | null };
export type AlertTransition = { from: AlertStatus | null; to: AlertStatus; by: string; at: string; note: string | null };
export type Alert = {
  id: string; key: string; period: string; status: AlertStatus; pair: [string, string]; bus: string[]; weight: number;
  signals: string[]; evidence: Evidence; sides: AlertSide[]; firstSeenAt: string; lastSeenAt: string; runs: number; history: AlertTransition[];
};
export type AlertAction = 'acknowledge' | 'escalate' | 'resolve';

export type ChargebackRow = { key: { bu: string | null; useCase: string | null }; calls: string; cost: string; share: string; useCase: { name: string } | null; businessUnit: { name: string } | null };
export type Chargeback = { currency: string; totals: { cost: string; calls: string }; rows: ChargebackRow[] };

export type Budget = {
  id: string; scope: string; scopeId: string; bu: string | null; useCase: string | null; unit: 'USD' | 'TOKENS'; currency: string | null;
  period: string; limit: string | null; spent: string | null; reserved: string | null; ratio: string | null; tier: string;
};

export type ShadowRow = { key: { provider: string | null; model: string | null; apiKeyId: string | null }; tollgateKey: boolean | null; reported: string; metered: string; difference: string };
export type ShadowSpend = {
  currency: string; rows: ShadowRow[]; totals: { reported: string; metered: string; difference: string; bypass: string; meteringGap: string };
  coveredDays: { provider: string; day: string }[]; notices: { provider: string; day: string; difference: string; delivery: { status: string } | null }[];
};

export type Viewer = { role: 'FINANCE' | 'ADMIN' | 'COUNCIL' | 'BU_OWNER'; bu: string | null };

/** Edges and alerts name a pair the same way: the two use cases sorted by id. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
