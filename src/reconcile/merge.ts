import { add, formatDecimal, MONEY_SCALE, rescale, type Decimal } from '../metering/money.js';
import type { CostItem, CostSource, ReportRow, Tokens, UsageItem } from './types.js';

/**
 * A report's usage and cost results merged into the rows a run stores: one per day × model × key × scope, with
 * the provider's cost and tokens. Where the cost report does not say which key spent (Anthropic's groups only by
 * workspace and description), each cost line (a model's tokens of one kind in a workspace) is split over the
 * keys that used that model in that workspace, in proportion to their tokens of that kind: the provider's own
 * money, exactly (the parts add up to the line to the last decimal), given to the keys that consumed it. Pure.
 */

export type MergeInput = {
  usage: readonly UsageItem[];
  cost: readonly CostItem[];
  costsByKey: boolean;
  /** The catalog model a report's model id stands for (a dated snapshot → its model); the id itself otherwise. */
  catalogModel(reportedModel: string): string;
};

type Acc = { row: Omit<ReportRow, 'cost' | 'costSource'>; cost: Decimal; sources: Set<CostSource> };

export function mergeReport(input: MergeInput): ReportRow[] {
  const rows = new Map<string, Acc>();
  const at = (day: string, reportedModel: string, apiKeyId: string | null, scopeId: string | null): Acc => {
    const key = [day, reportedModel, apiKeyId ?? '', scopeId ?? ''].join('\u0000');
    let acc = rows.get(key);
    if (!acc) {
      const row = { day, model: input.catalogModel(reportedModel), reportedModel, apiKeyId: apiKeyId ?? '', scopeId: scopeId ?? '', tokens: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 }, requests: 0 };
      acc = { row, cost: { units: 0n, scale: 0 }, sources: new Set() };
      rows.set(key, acc);
    }
    return acc;
  };
  const addCost = (acc: Acc, usd: string | Decimal, source: CostSource) => {
    acc.cost = add(acc.cost, usd);
    acc.sources.add(source);
  };

  if (input.costsByKey) {
    for (const c of input.cost) addCost(at(c.day, c.model ?? c.label, c.apiKeyId, c.scopeId), c.usd, 'reported');
  } else {
    const usageOf = groupUsage(input.usage);
    for (const c of input.cost) {
      const users = c.model === null ? [] : usageOf.get(groupKey(c.day, c.scopeId, c.model)) ?? [];
      const weights = weightsFor(users, c.tokenType);
      if (weights === null) {
        addCost(at(c.day, c.model ?? c.label, null, c.scopeId), c.usd, 'reported');
        continue;
      }
      const parts = allocate(c.usd, weights);
      users.forEach((u, i) => addCost(at(c.day, c.model!, u.apiKeyId, c.scopeId), parts[i]!, 'allocated'));
    }
  }
  for (const u of input.usage) {
    const acc = at(u.day, u.model ?? 'unspecified', u.apiKeyId, u.scopeId);
    addTokens(acc.row.tokens, u.tokens);
    acc.row.requests += u.requests;
  }
  return [...rows.values()].map(({ row, cost, sources }) => ({
    ...row,
    cost: formatDecimal(rescale(cost, MONEY_SCALE)),
    costSource: sources.has('allocated') ? 'allocated' : sources.has('reported') ? 'reported' : 'usage_only',
  }));
}

function groupKey(day: string, scopeId: string | null, model: string): string {
  return [day, scopeId ?? '', model].join('\u0000');
}

function groupUsage(usage: readonly UsageItem[]): Map<string, UsageItem[]> {
  const out = new Map<string, UsageItem[]>();
  for (const u of usage) {
    if (u.model === null) continue;
    const key = groupKey(u.day, u.scopeId, u.model);
    out.set(key, [...(out.get(key) ?? []), u]);
  }
  return out;
}

/** Each user's tokens of the cost line's kind; all their tokens when the line names no kind they used; null: nobody. */
function weightsFor(users: readonly UsageItem[], tokenType: string | null): bigint[] | null {
  if (users.length === 0) return null;
  const ofType = tokenType === null ? null : users.map((u) => BigInt(u.byType[tokenType] ?? 0));
  if (ofType && ofType.some((w) => w > 0n)) return ofType;
  const all = users.map((u) => BigInt(u.tokens.input + u.tokens.cachedInput + u.tokens.cacheWrite + u.tokens.output));
  return all.some((w) => w > 0n) ? all : null;
}

/**
 * `total` split in proportion to `weights` at money scale, by largest remainder: the parts add up to the total
 * exactly, and each is within one unit (10^-12) of its exact share.
 */
export function allocate(total: string | Decimal, weights: readonly bigint[]): Decimal[] {
  const units = rescale(total, MONEY_SCALE).units;
  const sign = units < 0n ? -1n : 1n;
  const abs = units * sign;
  const sum = weights.reduce((s, w) => s + w, 0n);
  const floors = weights.map((w) => (abs * w) / sum);
  let left = abs - floors.reduce((s, f) => s + f, 0n);
  const order = weights.map((w, i) => ({ i, rem: (abs * w) % sum })).sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of order) {
    if (left === 0n) break;
    floors[i]! += 1n;
    left -= 1n;
  }
  return floors.map((f) => ({ units: f * sign, scale: MONEY_SCALE }));
}

function addTokens(into: Tokens, t: Tokens): void {
  into.input += t.input;
  into.cachedInput += t.cachedInput;
  into.cacheWrite += t.cacheWrite;
  into.output += t.output;
}
