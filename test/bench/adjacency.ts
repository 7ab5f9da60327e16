/**
 * npm run bench (adjacency): the full analysis (signals + graph + Louvain + alerts) for BENCH_USE_CASES use
 * cases (default 2,000) across BENCH_BUS BUs (default 50) with BENCH_DAYS days of daily spend (default 90),
 * plus tools, sessions and call chains; 20 planted lead-lag shocks between coupled classes. The rows are
 * made in memory from a seeded PRNG, so a given size always gives the same month.
 * Baseline in the same run: a naive all-pairs zero-lag Pearson over every cross-BU pair (no lags, no
 * permutations), the least any analysis that looks at every pair once must pay.
 * Target (issue 5): under 2 s.
 */
import { performance } from 'node:perf_hooks';
import { analyzeAdjacency, mulberry32, type AdjacencyRows, type CallRow, type DailySpendRow, type SessionRow, type ToolUsageRow } from '../../src/adjacency/index.js';

const USE_CASES = Number(process.env.BENCH_USE_CASES ?? 2_000);
const BUS = Number(process.env.BENCH_BUS ?? 50);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const CLASSES = 20;
const COUPLINGS = 10;
const TOOLS = 1_000;
const SESSIONS = 3_000;
const CALLS = 5_000;
const SHOCKS = 20;
const RUNS = 3;

const rng = mulberry32(2026);
const pick = (n: number) => Math.floor(rng() * n);
const day = (t: number) => new Date(Date.UTC(2026, 0, 1 + t)).toISOString().slice(0, 10);

function makeRows(): AdjacencyRows {
  const ids = Array.from({ length: USE_CASES }, (_, i) => `uc-${String(i).padStart(4, '0')}`);
  const bu = (i: number) => `bu-${i % BUS}`;
  const cls = (i: number) => `class-${Math.floor(i / BUS) % CLASSES}`;
  const couplings = Array.from({ length: COUPLINGS }, (_, k) => ({ from: `class-${2 * k}`, to: `class-${2 * k + 1}`, weight: 0.5 + rng() / 2 }));
  const base = ids.map(() => 10 + 200 * rng() ** 3);
  const spikes = ids.map(() => [] as number[]);
  for (let k = 0; k < SHOCKS; k++) {
    const leader = pick(USE_CASES), follower = (leader + BUS + 1) % USE_CASES, lag = 1 + pick(5);
    const starts = Array.from({ length: 6 }, () => pick(DAYS - 8));
    spikes[leader]!.push(...starts); spikes[follower]!.push(...starts.map((s) => s + lag));
  }
  const dailySpend: DailySpendRow[] = [];
  ids.forEach((id, i) => {
    for (let t = 0; t < DAYS; t++) {
      const weekend = (t + 4) % 7 >= 5;
      const spike = spikes[i]!.includes(t) ? 4 * base[i]! : 0;
      dailySpend.push({ use_case: id, day: day(t), cost: base[i]! * (weekend ? 0.4 : 1) * (0.8 + 0.4 * rng()) + spike });
    }
  });
  const spend = new Map<string, number>();
  for (const d of dailySpend) spend.set(d.use_case, (spend.get(d.use_case) ?? 0) + d.cost);
  const tools: ToolUsageRow[] = ids.flatMap((id) => Array.from({ length: 3 }, () => ({ use_case: id, tool: `tool-${pick(TOOLS)}`, calls: 10 + pick(1_000) })));
  const sessions: SessionRow[] = Array.from({ length: SESSIONS }, (_, s) => Array.from({ length: 1 + pick(3) }, () => pick(USE_CASES)).map((i) => ({ session_id: `s-${s}`, use_case: ids[i]!, bu: bu(i) }))).flat();
  const calls: CallRow[] = Array.from({ length: CALLS }, (_, c) => {
    const i = pick(USE_CASES);
    return { request_id: `r-${c}`, parent_request_id: c > 0 && rng() < 0.5 ? `r-${pick(c)}` : null, use_case: ids[i]!, bu: bu(i) };
  });
  return {
    period: { from: day(0), to: day(DAYS) },
    useCases: ids.map((id, i) => ({ id, bu: bu(i), class: cls(i), spend: spend.get(id)! })),
    couplings, tools, sessions, calls, dailySpend,
    budgets: ids.map((id, i) => ({ use_case: id, limit: base[i]! * DAYS * 1.2 })),
  };
}

/** Every cross-BU pair's zero-lag Pearson on the raw series: the baseline. */
function naiveAllPairs(rows: AdjacencyRows): number {
  const index = new Map(rows.useCases.map((u, i) => [u.id, i]));
  const first = Date.parse(`${rows.period.from}T00:00:00Z`) / 86_400_000;
  const z = rows.useCases.map(() => new Float64Array(DAYS));
  for (const d of rows.dailySpend!) z[index.get(d.use_case)!]![Date.parse(`${d.day}T00:00:00Z`) / 86_400_000 - first]! += d.cost;
  for (const s of z) {
    const mean = s.reduce((a, b) => a + b, 0) / DAYS;
    const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / DAYS) || 1;
    for (let t = 0; t < DAYS; t++) s[t] = (s[t]! - mean) / (sd * Math.sqrt(DAYS));
  }
  let strong = 0;
  for (let i = 0; i < z.length; i++) {
    for (let j = i + 1; j < z.length; j++) {
      if (rows.useCases[i]!.bu === rows.useCases[j]!.bu) continue;
      let r = 0;
      for (let t = 0; t < DAYS; t++) r += z[i]![t]! * z[j]![t]!;
      if (r > 0.5) strong++;
    }
  }
  return strong;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}

function best<T>(fn: () => T): { ms: number; value: T } {
  const runs = Array.from({ length: RUNS }, () => time(fn));
  return runs.reduce((a, b) => (b.ms < a.ms ? b : a));
}

const rows = makeRows();
const analysis = best(() => analyzeAdjacency(rows));
const baseline = best(() => naiveAllPairs(rows));
const a = analysis.value;
const leadLagEdges = a.edges.filter((e) => e.fired.includes('leadLag')).length;
console.log(`adjacency: ${USE_CASES} use cases × ${BUS} BUs × ${DAYS} days (${rows.dailySpend!.length} spend rows, ${rows.tools!.length} tool rows, ${rows.sessions!.length} session rows, ${rows.calls!.length} call rows)`);
console.log(`  edges ${a.edges.length} (lead-lag significant on ${leadLagEdges}; ${SHOCKS} planted), cross-BU communities ${a.communities.length}, alerts ${a.alerts.length}`);
console.log(`  full analysis (best of ${RUNS}): ${analysis.ms.toFixed(0)} ms   target < 2000 ms   ${analysis.ms < 2000 ? 'OK' : 'SLOW'}`);
console.log(`  baseline, naive all-pairs zero-lag Pearson: ${baseline.ms.toFixed(0)} ms   ratio ${(analysis.ms / baseline.ms).toFixed(2)}×`);
