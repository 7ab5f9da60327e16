/**
 * The rows the adjacency analysis reads and the findings it returns. Everything here is plain data: the
 * repositories fill the rows, the analysis (signals → graph → alerts) never touches the database.
 */

/** A use case of the catalog with its spend over the period (money, in the period's one currency). */
export type UseCaseRow = { id: string; bu: string; class: string; spend: number };
/** A coupling the catalog declares between two use-case classes; undirected, weight in (0, 1], default 1. */
export type ClassCouplingRow = { from: string; to: string; weight?: number };
/** How often a use case declared or called a tool over the period. */
export type ToolUsageRow = { use_case: string; tool: string; calls: number };
export type SessionRow = { session_id: string; use_case: string; bu: string };
export type CallRow = { request_id: string; parent_request_id: string | null; use_case: string; bu: string };
/** Spend of one use case on one UTC day (YYYY-MM-DD). Missing days count as zero. */
export type DailySpendRow = { use_case: string; day: string; cost: number };
export type BudgetRow = { use_case: string; limit: number };
/** Days from `from` (inclusive) to `to` (exclusive), both YYYY-MM-DD, UTC. */
export type Period = { from: string; to: string };

export type AdjacencyRows = {
  period: Period;
  useCases: readonly UseCaseRow[];
  couplings?: readonly ClassCouplingRow[];
  tools?: readonly ToolUsageRow[];
  sessions?: readonly SessionRow[];
  calls?: readonly CallRow[];
  dailySpend?: readonly DailySpendRow[];
  budgets?: readonly BudgetRow[];
};

export const SIGNAL_NAMES = ['classCoupling', 'sharedTools', 'interactions', 'leadLag'] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

export type LeadLagEvidence = {
  /** The use case whose spend moves first, and the one that follows `lagDays` later (0: together). */
  leader: string;
  follower: string;
  lagDays: number;
  r: number;
  /** Analytic p of r, adjusted for the lags tried and the pairs tested in the run (see signals.ts). */
  pFamily: number;
  /** Permutation p-value of the best lag's r against the shuffled series' best r; null when not tested. */
  p: number | null;
  /** z-score of r against the permutations' maxima; null when fewer than two permutations ran. */
  z: number | null;
  permutations: number;
  significant: boolean;
};

export type PairEvidence = {
  classCoupling?: { classes: [string, string]; weight: number };
  sharedTools?: { tools: string[]; overlap: number };
  interactions?: { sessions: number; calls: number; weight: number };
  leadLag?: LeadLagEvidence;
};

/** One weight in [0, 1] per signal; lead-lag counts only when significant. */
export type SignalWeights = Record<SignalName, number>;

/** A candidate pair, `source` < `target` by id, always of different BUs. */
export type PairSignals = {
  source: string;
  target: string;
  weights: SignalWeights;
  evidence: PairEvidence;
};

export type NodeAttributes = { bu: string; class: string; spend: number };
export type EdgeAttributes = {
  weight: number;
  signals: SignalWeights;
  fired: SignalName[];
  evidence: PairEvidence;
};

export type AdjacencyEdge = EdgeAttributes & { source: string; target: string; sourceBu: string; targetBu: string };

export type Community = { id: number; useCases: string[]; bus: string[]; spend: number };

export type AlertSide = {
  useCase: string;
  bu: string;
  spend: number;
  /** Why this side counts as spending heavily. */
  heavy: Array<'percentile' | 'budget'>;
  budget: number | null;
  budgetShare: number | null;
};

export type AdjacencyAlert = {
  /** Stable across runs: period, the sorted pair and the signals that fired. */
  key: string;
  period: Period;
  pair: [string, string];
  weight: number;
  signals: SignalName[];
  evidence: PairEvidence;
  sides: [AlertSide, AlertSide];
  spendThreshold: number;
};

/** A bad option: names the option and what it must be (graphology's InvalidArgumentsGraphError, typed). */
export class AdjacencyOptionsError extends Error {
  readonly code = 'invalid_adjacency_option';
  readonly option: string;

  constructor(option: string, expected: string) {
    super(`Adjacency option "${option}" ${expected}.`);
    this.name = 'AdjacencyOptionsError';
    this.option = option;
  }
}

/** A row the analysis cannot read (a malformed day, a day outside the period, a non-finite number). */
export class AdjacencyInputError extends Error {
  readonly code = 'invalid_adjacency_input';
  readonly field: string;

  constructor(field: string, detail: string) {
    super(`Adjacency input ${field}: ${detail}.`);
    this.name = 'AdjacencyInputError';
    this.field = field;
  }
}

type Rule = { min: number; max: number; integer?: boolean } | 'boolean';
type OptionValue = number | boolean;

function checkOption(key: string, value: unknown, rule: Rule): void {
  if (rule === 'boolean') {
    if (typeof value !== 'boolean') throw new AdjacencyOptionsError(key, 'must be a boolean');
    return;
  }
  const inRange = typeof value === 'number' && Number.isFinite(value) && value >= rule.min && value <= rule.max;
  if (!inRange || (rule.integer && !Number.isInteger(value))) {
    throw new AdjacencyOptionsError(key, `must be ${rule.integer ? 'an integer' : 'a number'} in [${rule.min}, ${rule.max}]`);
  }
}

/** Merges options over DEFAULTS once, refusing unknown keys and out-of-range values, and freezes them. */
export function resolveOptions<T extends Record<string, OptionValue>>(
  defaults: T,
  rules: Record<keyof T, Rule>,
  options: object = {},
): Readonly<T> {
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(rules, key)) throw new AdjacencyOptionsError(key, 'is not an option here');
    checkOption(key, value, rules[key as keyof T]);
    defined[key] = value;
  }
  return Object.freeze({ ...defaults, ...defined });
}
