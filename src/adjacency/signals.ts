/**
 * The four pair signals, computed from rows: declared class coupling, shared tools, cross-BU sessions and
 * call chains, and lead-lag correlation of daily spend checked against a shuffled baseline. Only pairs of
 * different BUs are ever considered.
 *
 * Why candidates are pruned: 2,000 use cases make ~2M cross-BU pairs, and a permutation test on each is far
 * too slow. Lead-lag runs only on pairs that another signal already joins (shared tool, declared coupling,
 * session or call chain) plus, per use case, the `screenTopK` partners whose binned spend correlates best in
 * a cheap screen (sums over `screenBinDays`-day bins, lags of −1, 0, +1 bins).
 */
import { mulberry32 } from '../analytics/random.js';
import { AdjacencyInputError, resolveOptions, type AdjacencyRows, type LeadLagEvidence, type PairEvidence, type PairSignals, type Period } from './types.js';

export const SIGNAL_DEFAULTS = {
  /** Lags tried, in days, both ways. */
  maxLag: 7,
  /** A lag is tried only if the shifted series still overlap this many days. */
  minOverlapDays: 14,
  permutations: 200,
  /** Lead-lag is significant when the permutation p-value is at most alpha (and r ≥ minCorrelation). */
  alpha: 0.01,
  /** Below this best r no permutation test runs: the pair is not worth the time. */
  minCorrelation: 0.3,
  seed: 20_260_601,
  /** Subtract each weekday's median first, so that a shared weekly rhythm does not read as coupling. */
  deseasonalize: true,
  /** interactions weight = count / (count + this). */
  interactionHalfSaturation: 5,
  /** A tool more use cases than this call is a commodity (web search): it counts in overlaps' totals only. */
  maxToolUseCases: 100,
  screenTopK: 3,
  screenMinCorrelation: 0.5,
  screenBinDays: 4,
};
export type SignalOptions = typeof SIGNAL_DEFAULTS;

const RULES = {
  maxLag: { min: 0, max: 60, integer: true },
  minOverlapDays: { min: 3, max: 366, integer: true },
  permutations: { min: 0, max: 10_000, integer: true },
  alpha: { min: 0, max: 1 },
  minCorrelation: { min: -1, max: 1 },
  seed: { min: 0, max: 2 ** 32 - 1, integer: true },
  deseasonalize: 'boolean',
  interactionHalfSaturation: { min: Number.MIN_VALUE, max: 1e9 },
  maxToolUseCases: { min: 2, max: 1e9, integer: true },
  screenTopK: { min: 0, max: 1_000, integer: true },
  screenMinCorrelation: { min: -1, max: 1 },
  screenBinDays: { min: 1, max: 31, integer: true },
} as const;

export function resolveSignalOptions(options: Partial<SignalOptions> = {}): Readonly<SignalOptions> {
  return resolveOptions(SIGNAL_DEFAULTS, RULES, options);
}

// ---------------------------------------------------------------- days and series

const DAY_MS = 86_400_000;

export function dayIndex(day: string, field: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw new AdjacencyInputError(field, `"${day}" is not a YYYY-MM-DD day`);
  }
  return ms / DAY_MS;
}

export function periodLength(period: Period): number {
  const days = dayIndex(period.to, 'period.to') - dayIndex(period.from, 'period.from');
  if (days < 1) throw new AdjacencyInputError('period', 'to must come after from');
  return days;
}

function median(values: number[]): number {
  const s = values.sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Each value relative to the median of its weekday (x / m − 1; x − m where the median is 0). Spend rhythms
 * are multiplicative (a quiet weekend is a fraction of a weekday), so a ratio leaves noise of one scale; the
 * median is robust to a few spikes landing on the same weekday.
 */
export function removeWeekdayMedians(series: Float64Array, firstDay: number): Float64Array {
  const out = Float64Array.from(series);
  for (let w = 0; w < 7; w++) {
    const idx: number[] = [];
    for (let t = 0; t < series.length; t++) if ((firstDay + t) % 7 === w) idx.push(t);
    if (idx.length === 0) continue;
    const m = median(idx.map((t) => series[t]!));
    for (const t of idx) out[t] = m > 0 ? series[t]! / m - 1 : series[t]! - m;
  }
  return out;
}

function dailySeries(rows: AdjacencyRows, index: Map<string, number>, o: SignalOptions): Float64Array[] {
  const first = dayIndex(rows.period.from, 'period.from');
  const days = periodLength(rows.period);
  const series = rows.useCases.map(() => new Float64Array(days));
  const dayCache = new Map<string, number>();
  for (const row of rows.dailySpend ?? []) {
    let t = dayCache.get(row.day);
    if (t === undefined) dayCache.set(row.day, (t = dayIndex(row.day, 'dailySpend.day') - first));
    if (t < 0 || t >= days) throw new AdjacencyInputError('dailySpend.day', `${row.day} is outside the period`);
    if (!Number.isFinite(row.cost)) throw new AdjacencyInputError('dailySpend.cost', `${row.cost} is not a number`);
    const i = index.get(row.use_case);
    if (i !== undefined) series[i]![t]! += row.cost;
  }
  return o.deseasonalize ? series.map((s) => removeWeekdayMedians(s, first)) : series;
}

// ---------------------------------------------------------------- lead-lag

/** A series with its prefix sums, so any window's mean and variance cost O(1). */
type Prepared = { x: Float64Array; s: Float64Array; ss: Float64Array };

function prepare(x: Float64Array, into?: Prepared): Prepared {
  const p = into ?? { x, s: new Float64Array(x.length + 1), ss: new Float64Array(x.length + 1) };
  for (let t = 0; t < x.length; t++) {
    p.s[t + 1] = p.s[t]! + x[t]!;
    p.ss[t + 1] = p.ss[t]! + x[t]! * x[t]!;
  }
  return p;
}

/** Pearson r of a[t] and b[t + lag] over the days both exist; NaN when a window is flat. */
function laggedPearson(a: Prepared, b: Prepared, lag: number): number {
  const n = a.x.length;
  const start = Math.max(0, -lag);
  const end = Math.min(n, n - lag);
  const m = end - start;
  let sxy = 0;
  for (let t = start; t < end; t++) sxy += a.x[t]! * b.x[t + lag]!;
  const sx = a.s[end]! - a.s[start]!;
  const sy = b.s[end + lag]! - b.s[start + lag]!;
  const vx = a.ss[end]! - a.ss[start]! - (sx * sx) / m;
  const vy = b.ss[end + lag]! - b.ss[start + lag]! - (sy * sy) / m;
  if (!(vx > 1e-12 * (a.ss[end]! - a.ss[start]!)) || !(vy > 1e-12 * (b.ss[end + lag]! - b.ss[start + lag]!))) return NaN;
  return (sxy - (sx * sy) / m) / Math.sqrt(vx * vy);
}

/** The lag in [−maxLag, maxLag] with the highest r (ties: the smaller |lag|); positive lag = a leads. */
export function bestLag(a: Prepared, b: Prepared, maxLag: number, minOverlap: number): { lag: number; r: number } {
  const lagLimit = Math.min(maxLag, a.x.length - minOverlap);
  let lag = 0, r = laggedPearson(a, b, 0);
  if (Number.isNaN(r)) r = -Infinity;
  for (let d = 1; d <= lagLimit; d++) {
    const ahead = laggedPearson(a, b, d), behind = laggedPearson(a, b, -d);
    if (ahead > r) { r = ahead; lag = d; }
    if (behind > r) { r = behind; lag = -d; }
  }
  return { lag, r };
}

/** erfc with fractional error < 1.2e-7 everywhere (Numerical Recipes' erfcc), good for tiny tails. */
function erfc(x: number): number {
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const ans = t * Math.exp(poly);
  return x >= 0 ? ans : 2 - ans;
}

/**
 * Family-wise p of a best r: one-sided Fisher-z p of r over m days, Šidák over the 2·maxLag + 1 lags tried,
 * Bonferroni over the `family` pairs tested in the run, so thousands of candidate pairs do not make noise
 * significant by sheer number.
 */
export function familyP(r: number, m: number, lags: number, family: number): number {
  const z = Math.atanh(Math.min(r, 1 - 1e-12)) * Math.sqrt(Math.max(1, m - 3));
  const single = 0.5 * erfc(z / Math.SQRT2);
  return Math.min(1, family * -Math.expm1(lags * Math.log1p(-single)));
}


/** FNV-1a of the pair: each pair gets its own stream, so results do not depend on row order. */
function pairSeed(seed: number, a: string, b: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (const ch of `${a}\u0000${b}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

type Significance = { p: number; z: number | null; permutations: number; significant: boolean };

/**
 * Shuffles b and takes the best r over all lags each time: the observed best r is compared with maxima, so
 * trying 2·maxLag + 1 lags is paid for. Stops as soon as p can no longer reach alpha (sequential test), so
 * noise pairs cost a handful of shuffles and only coupled pairs run all of them.
 */
export function permutationTest(a: Prepared, b: Prepared, observed: number, o: SignalOptions, rng: () => number): Significance {
  const shuffled = prepare(Float64Array.from(b.x));
  const giveUp = o.alpha * (o.permutations + 1) - 1;
  let exceed = 0, runs = 0, sum = 0, sumSq = 0;
  while (runs < o.permutations && exceed <= giveUp) {
    const y = shuffled.x;
    for (let i = y.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      const tmp = y[i]!; y[i] = y[j]!; y[j] = tmp;
    }
    const { r } = bestLag(a, prepare(y, shuffled), o.maxLag, o.minOverlapDays);
    const max = Number.isNaN(r) || r === -Infinity ? 0 : r;
    runs++; sum += max; sumSq += max * max;
    if (max >= observed) exceed++;
  }
  const p = (1 + exceed) / (1 + runs);
  const sd = runs > 1 ? Math.sqrt(Math.max(0, (sumSq - (sum * sum) / runs) / (runs - 1))) : 0;
  const z = sd > 0 ? (observed - sum / runs) / sd : null;
  return { p, z, permutations: runs, significant: runs === o.permutations && p <= o.alpha };
}

/** Lead-lag of two daily series (ids give the direction and the shuffle stream); `family`: pairs tested. */
export function leadLag(idA: string, a: Float64Array, idB: string, b: Float64Array, options: Partial<SignalOptions> = {}, family = 1): LeadLagEvidence | null {
  const o = resolveSignalOptions(options);
  const pa = prepare(a), pb = prepare(b);
  return testLeadLag(idA, pa, idB, pb, bestLag(pa, pb, o.maxLag, o.minOverlapDays), family, o);
}

/**
 * Two gates before the permutations: r ≥ minCorrelation and the family-wise analytic p ≤ alpha. The
 * permutation test then guards what the normal approximation gets wrong (one shared outlier, heavy tails).
 */
function testLeadLag(idA: string, a: Prepared, idB: string, b: Prepared, best: { lag: number; r: number }, family: number, o: SignalOptions): LeadLagEvidence | null {
  const { lag, r } = best;
  if (!Number.isFinite(r)) return null;
  const lags = 2 * Math.min(o.maxLag, a.x.length - o.minOverlapDays) + 1;
  const pFamily = familyP(r, a.x.length - Math.abs(lag), lags, family);
  const direction = lag >= 0 ? { leader: idA, follower: idB } : { leader: idB, follower: idA };
  const base = { ...direction, lagDays: Math.abs(lag), r, pFamily };
  if (r < o.minCorrelation || pFamily > o.alpha || o.permutations === 0) return { ...base, p: null, z: null, permutations: 0, significant: false };
  return { ...base, ...permutationTest(a, b, r, o, mulberry32(pairSeed(o.seed, idA, idB))) };
}

// ---------------------------------------------------------------- pair accumulation

type Acc = { coupling: number; classes?: [string, string]; toolMin: number; tools?: [string, number][]; sessions: number; calls: number };
type Ctx = { ids: string[]; bus: string[]; pairs: Map<number, Acc> };

function touch(ctx: Ctx, i: number, j: number): Acc | undefined {
  if (i === j || ctx.bus[i] === ctx.bus[j]) return undefined;
  const key = i < j ? i * ctx.ids.length + j : j * ctx.ids.length + i;
  let acc = ctx.pairs.get(key);
  if (!acc) ctx.pairs.set(key, (acc = { coupling: 0, toolMin: 0, sessions: 0, calls: 0 }));
  return acc;
}

/** Declared couplings, made symmetric: the weight of {a, b} is the largest weight declared either way. */
export function couplingTable(rows: AdjacencyRows): Map<string, number> {
  const table = new Map<string, number>();
  for (const c of rows.couplings ?? []) {
    const w = c.weight ?? 1;
    if (!(w > 0 && w <= 1)) throw new AdjacencyInputError('couplings.weight', `${w} is not in (0, 1]`);
    const key = [c.from, c.to].sort().join('\u0000');
    table.set(key, Math.max(table.get(key) ?? 0, w));
  }
  return table;
}

function addCouplings(ctx: Ctx, rows: AdjacencyRows): void {
  const byClass = new Map<string, number[]>();
  rows.useCases.forEach((u, i) => (byClass.get(u.class) ?? byClass.set(u.class, []).get(u.class)!).push(i));
  for (const [key, weight] of couplingTable(rows)) {
    const [ca, cb] = key.split('\u0000') as [string, string];
    for (const i of byClass.get(ca) ?? []) {
      for (const j of byClass.get(cb) ?? []) {
        if (ca === cb && j <= i) continue;
        const acc = touch(ctx, i, j);
        if (acc && weight > acc.coupling) Object.assign(acc, { coupling: weight, classes: [ca, cb] });
      }
    }
  }
}

function addTools(ctx: Ctx, rows: AdjacencyRows, index: Map<string, number>, o: SignalOptions): Float64Array {
  const totals = new Float64Array(ctx.ids.length);
  const byTool = new Map<string, Map<number, number>>();
  for (const row of rows.tools ?? []) {
    const i = index.get(row.use_case);
    if (i === undefined || !(row.calls > 0)) continue;
    totals[i]! += row.calls;
    const users = byTool.get(row.tool) ?? new Map<number, number>();
    byTool.set(row.tool, users.set(i, (users.get(i) ?? 0) + row.calls));
  }
  for (const [tool, users] of byTool) {
    if (users.size > o.maxToolUseCases) continue;
    const list = [...users];
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        const acc = touch(ctx, list[x]![0], list[y]![0]);
        const shared = Math.min(list[x]![1], list[y]![1]);
        if (acc) { acc.toolMin += shared; (acc.tools ??= []).push([tool, shared]); }
      }
    }
  }
  return totals;
}

function addInteractions(ctx: Ctx, rows: AdjacencyRows, index: Map<string, number>): void {
  const sessions = new Map<string, Set<number>>();
  for (const s of rows.sessions ?? []) {
    const i = index.get(s.use_case);
    if (i !== undefined) sessions.set(s.session_id, (sessions.get(s.session_id) ?? new Set()).add(i));
  }
  for (const members of sessions.values()) {
    const list = [...members].sort((a, b) => a - b);
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        const acc = touch(ctx, list[x]!, list[y]!);
        if (acc) acc.sessions++;
      }
    }
  }
  const caller = new Map<string, number>();
  for (const c of rows.calls ?? []) { const i = index.get(c.use_case); if (i !== undefined) caller.set(c.request_id, i); }
  for (const c of rows.calls ?? []) {
    const i = index.get(c.use_case);
    const parent = c.parent_request_id === null ? undefined : caller.get(c.parent_request_id);
    if (i === undefined || parent === undefined) continue;
    const acc = touch(ctx, parent, i);
    if (acc) acc.calls++;
  }
}

// ---------------------------------------------------------------- cheap screen

function binned(series: Float64Array, bin: number): Float64Array | null {
  const out = new Float64Array(Math.ceil(series.length / bin));
  for (let t = 0; t < series.length; t++) out[Math.floor(t / bin)]! += series[t]!;
  const mean = out.reduce((a, b) => a + b, 0) / out.length;
  const sd = Math.sqrt(out.reduce((a, b) => a + (b - mean) ** 2, 0) / out.length);
  if (!(sd > 0)) return null;
  return out.map((v) => (v - mean) / (sd * out.length));
}

/** Per use case, the screenTopK other-BU partners with the best binned correlation (lags −1..+1 bins). */
function addScreened(ctx: Ctx, series: Float64Array[], o: SignalOptions): void {
  if (o.screenTopK === 0) return;
  const z = series.map((s) => binned(s, o.screenBinDays));
  const n = ctx.ids.length;
  const top = Array.from({ length: n }, () => ({ score: new Float64Array(o.screenTopK).fill(o.screenMinCorrelation), who: new Int32Array(o.screenTopK).fill(-1) }));
  const offer = (i: number, j: number, score: number) => {
    const t = top[i]!; const k = o.screenTopK - 1;
    if (score <= t.score[k]!) return;
    let p = k;
    for (; p > 0 && t.score[p - 1]! < score; p--) { t.score[p] = t.score[p - 1]!; t.who[p] = t.who[p - 1]!; }
    t.score[p] = score; t.who[p] = j;
  };
  for (let i = 0; i < n; i++) {
    const a = z[i];
    if (!a) continue;
    const last = a.length - 1;
    for (let j = i + 1; j < n; j++) {
      const b = z[j];
      if (!b || ctx.bus[i] === ctx.bus[j]) continue;
      let s0 = a[last]! * b[last]!, s1 = 0, s2 = 0;
      for (let t = 0; t < last; t++) {
        const at = a[t]!, bt = b[t]!;
        s0 += at * bt; s1 += at * b[t + 1]!; s2 += a[t + 1]! * bt;
      }
      const score = Math.max(s0, s1, s2) * a.length;
      offer(i, j, score); offer(j, i, score);
    }
  }
  top.forEach((t, i) => t.who.forEach((j) => { if (j >= 0) touch(ctx, i, j); }));
}

// ---------------------------------------------------------------- assembly

function evidenceOf(acc: Acc, i: number, j: number, totals: Float64Array, o: SignalOptions): PairEvidence {
  const evidence: PairEvidence = {};
  if (acc.coupling > 0) evidence.classCoupling = { classes: acc.classes!, weight: acc.coupling };
  if (acc.toolMin > 0) {
    const tools = (acc.tools ?? []).sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([t]) => t);
    evidence.sharedTools = { tools, overlap: acc.toolMin / (totals[i]! + totals[j]! - acc.toolMin) };
  }
  const count = acc.sessions + acc.calls;
  if (count > 0) evidence.interactions = { sessions: acc.sessions, calls: acc.calls, weight: count / (count + o.interactionHalfSaturation) };
  return evidence;
}

/** Every cross-BU pair with at least one signal, sorted by (source, target). */
export function computeSignals(rows: AdjacencyRows, options: Partial<SignalOptions> = {}): PairSignals[] {
  const o = resolveSignalOptions(options);
  const order = rows.useCases.map((u, i) => i).sort((x, y) => (rows.useCases[x]!.id < rows.useCases[y]!.id ? -1 : 1));
  const sorted = { ...rows, useCases: order.map((i) => rows.useCases[i]!) };
  const ids = sorted.useCases.map((u) => u.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const ctx: Ctx = { ids, bus: sorted.useCases.map((u) => u.bu), pairs: new Map() };
  const series = dailySeries(sorted, index, o);
  addCouplings(ctx, sorted);
  const totals = addTools(ctx, sorted, index, o);
  addInteractions(ctx, sorted, index);
  addScreened(ctx, series, o);
  const prepared = series.map((s) => prepare(s));
  const keys = [...ctx.pairs.keys()].sort((x, y) => x - y);
  const n = ids.length;
  const observed = keys.map((key) => bestLag(prepared[Math.floor(key / n)]!, prepared[key % n]!, o.maxLag, o.minOverlapDays));
  // The screen picks partners because they correlate: the family is then every cross-BU pair it looked at.
  const family = o.screenTopK > 0 ? crossBuPairs(ctx.bus) : Math.max(1, observed.filter((b) => Number.isFinite(b.r)).length);
  const out: PairSignals[] = [];
  keys.forEach((key, k) => {
    const i = Math.floor(key / n), j = key % n;
    const acc = ctx.pairs.get(key)!;
    const observedOnly = acc.toolMin > 0 || acc.sessions + acc.calls > 0;
    if (!observedOnly && !(observed[k]!.r >= o.minCorrelation)) return;
    const ll = testLeadLag(ids[i]!, prepared[i]!, ids[j]!, prepared[j]!, observed[k]!, family, o);
    // A declared coupling is a prior, not an observation: it weighs on edges, it does not make one.
    if (!observedOnly && !ll?.significant) return;
    const evidence = evidenceOf(acc, i, j, totals, o);
    if (ll) evidence.leadLag = ll;
    const weights = {
      classCoupling: evidence.classCoupling?.weight ?? 0,
      sharedTools: evidence.sharedTools?.overlap ?? 0,
      interactions: evidence.interactions?.weight ?? 0,
      leadLag: ll?.significant ? Math.max(0, ll.r) : 0,
    };
    out.push({ source: ids[i]!, target: ids[j]!, weights, evidence });
  });
  return out;
}

function crossBuPairs(bus: readonly string[]): number {
  const perBu = new Map<string, number>();
  for (const b of bus) perBu.set(b, (perBu.get(b) ?? 0) + 1);
  let same = 0;
  for (const c of perBu.values()) same += (c * (c - 1)) / 2;
  return Math.max(1, (bus.length * (bus.length - 1)) / 2 - same);
}
