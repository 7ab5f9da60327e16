import type { FastifyInstance } from 'fastify';
import type { BudgetFact, BudgetTier, Decision } from '../policy/types.js';
import type { TierRecord } from '../metering/types.js';

/** Tiers that are events, in order: crossing one means crossing those below it too. */
const EVENT_TIERS = ['notice', 'warning', 'soft_cap', 'hard_cap'] as const;
const seen = new WeakMap<FastifyInstance, Set<string>>();

/**
 * Journals each budget tier this call's decision reached (and those below it) once per process; the
 * writer's unique key makes it once overall, however many replicas race. Session caps are not tiered.
 */
export function recordTierCrossings(app: FastifyInstance, requestId: string, ts: Date, budgets: BudgetFact[], decision: Decision): void {
  if (decision.budgets.length === 0) return;
  const recorded = seen.get(app) ?? new Set<string>();
  seen.set(app, recorded);
  const facts = new Map(budgets.map((b) => [b.id, b]));
  for (const b of decision.budgets) {
    const fact = facts.get(b.id);
    // A limit of 0 (ratio null) is a deliberate block, not a crossing worth telling anyone about.
    if (!fact || fact.scope === 'session' || fact.limit === null || b.ratio === null) continue;
    const ratio = b.ratio;
    for (const tier of tiersUpTo(b.tier)) {
      const key = `${b.id}/${fact.period_start}/${tier}`;
      if (recorded.has(key)) continue;
      recorded.add(key);
      const record: TierRecord = {
        kind: 'tier', budget_id: b.id, period_start: fact.period_start, key: '', tier, ratio,
        spent: fact.spent, limit: fact.limit, unit: fact.unit, request_id: requestId, ts: ts.toISOString(),
      };
      try {
        app.tollgate.meter.record(record);
      } catch (err) {
        recorded.delete(key);
        app.log.error({ err, budget_id: b.id, tier }, 'tier crossing could not be journaled');
      }
    }
  }
  if (recorded.size > 100_000) recorded.clear();
}

function tiersUpTo(tier: BudgetTier): TierRecord['tier'][] {
  const i = EVENT_TIERS.indexOf(tier as TierRecord['tier']);
  return i < 0 ? [] : EVENT_TIERS.slice(0, i + 1);
}
