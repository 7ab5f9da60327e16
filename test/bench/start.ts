/**
 * npm run bench (start): how long an operator waits, on the embedded database (issue 17).
 * - A second `npm start` to /readyz 200: the first start builds if the sources changed, creates the database,
 *   migrates and seeds; later ones check that dist/ is current and start. Also `node dist/cli/main.js serve`
 *   alone (no npm, no build check).
 * - `tollgate --help` (node dist/cli/main.js --help).
 * - `tollgate adjacency run` on a month of BENCH_START_EVENTS synthetic events (default 20,000), through the
 *   running serve (its local socket), as an operator runs it.
 * Baseline in the same run: a bare `node -e ''`. Each figure is the median of BENCH_START_RUNS runs (default 5),
 * wall time and CPU time (user + system of the process and its children: the machine is shared, and CPU
 * does not grow with other people's load the way wall time does).
 * Targets (issue 17): a second start ready in ≤ 3 s, --help in ≤ 0.3 s. Linux only (CPU times from /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/pg-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = path.join(ROOT, 'dist/cli/main.js');
const RUNS = Number(process.env.BENCH_START_RUNS ?? 5);
const EVENTS = Number(process.env.BENCH_START_EVENTS ?? 20_000);
const READY_TIMEOUT_MS = 180_000;
/** USER_HZ: /proc reports CPU in clock ticks of 1/100 s on Linux. */
const TICK_MS = 10;

type Figure = { wallMs: number; cpuMs: number };

/** utime + stime + cutime + cstime of a process, and its parent, from /proc/<pid>/stat. */
function procStat(pid: number | 'self'): { ppid: number; ticks: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) };
  } catch {
    return null;
  }
}

/** CPU used so far by `root` and every process under it (those that exited and were waited for included). */
function treeCpuMs(root: number): number {
  const stats = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => [Number(d), procStat(Number(d))] as const);
  const tree = new Set([root]);
  let size = 0;
  while (tree.size > size) {
    size = tree.size;
    for (const [pid, s] of stats) if (s && tree.has(s.ppid)) tree.add(pid);
  }
  return stats.filter(([pid]) => tree.has(pid)).reduce((sum, [, s]) => sum + (s?.ticks ?? 0), 0) * TICK_MS;
}

/** A command to its exit: wall time, and CPU from this process's waited-for children (cutime + cstime). */
async function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<Figure & { stdout: string }> {
  const cpuBefore = childrenCpuMs();
  const started = performance.now();
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${stderr}`);
  return { wallMs, cpuMs: childrenCpuMs() - cpuBefore, stdout };
}

function childrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

type Started = Figure & { child: ChildProcess; stop(): Promise<void> };

/** Starts a server and waits for /readyz 200: wall time, and the CPU of its process tree at that moment. */
async function timeStart(cmd: string, args: string[], env: NodeJS.ProcessEnv, port: number): Promise<Started> {
  const started = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const exited = once(child, 'exit');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) {
      const wallMs = performance.now() - started;
      const cpuMs = treeCpuMs(child.pid!);
      return {
        wallMs, cpuMs, child,
        async stop() {
          // npm start is npm → sh → node: the whole group gets the signal, as a terminal's Ctrl-C would send it.
          process.kill(-child.pid!, 'SIGTERM');
          await exited;
        },
      };
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`${cmd} ${args.join(' ')} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

function median(figures: Figure[]): Figure {
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wallMs: mid(figures.map((f) => f.wallMs)), cpuMs: mid(figures.map((f) => f.cpuMs)) };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const show = (f: Figure) => `${s(f.wallMs)} wall, ${s(f.cpuMs)} CPU`;
const verdict = (f: Figure, targetMs: number) => (f.wallMs <= targetMs ? `met (≤ ${s(targetMs)})` : `NOT met (> ${s(targetMs)})`);

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-start-'));
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TOLLGATE_|DATABASE_URL$|PORT$|npm_)/.test(k))),
    TOLLGATE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', TOLLGATE_ADJACENCY_INTERVAL_MS: '0',
  };
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    const baseline = median(await series(() => timeCommand(process.execPath, ['-e', ''], env)));
    const first = await timeStart(npm, ['start'], env, await freePort());
    await first.stop();
    console.log(`first npm start (build if sources changed, create the database, migrate, seed): ${show(first)}`);

    const npmStarts: Figure[] = [];
    const serveStarts: Figure[] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const [list, cmd, args] of [[npmStarts, npm, ['start']], [serveStarts, process.execPath, [MAIN, 'serve']]] as const) {
        const run = await timeStart(cmd, [...args], env, await freePort());
        list.push(run);
        await run.stop();
      }
    }
    const secondStart = median(npmStarts);
    console.log(`second npm start to /readyz (median of ${RUNS}): ${show(secondStart)}: ${verdict(secondStart, 3000)}`);
    console.log(`  node dist/cli/main.js serve alone: ${show(median(serveStarts))}`);

    const help = median(await series(() => timeCommand(process.execPath, [MAIN, '--help'], env)));
    console.log(`tollgate --help (median of ${RUNS}): ${show(help)}: ${verdict(help, 300)}; bare node -e '': ${show(baseline)} (×${(help.wallMs / baseline.wallMs).toFixed(1)} wall)`);

    const serve = await timeStart(process.execPath, [MAIN, 'serve'], env, await freePort());
    try {
      const month = new Date().toISOString().slice(0, 7);
      const [year, m] = month.split('-').map(Number) as [number, number];
      const until = new Date(Date.UTC(year, m, 1)).toISOString().slice(0, 7);
      await timeCommand(process.execPath, [MAIN, 'seed', '--synthetic', '--events', String(EVENTS), '--months', '1', '--until', until], env);
      const adjacency = median(await series(() => timeCommand(process.execPath, [MAIN, 'adjacency', 'run', '--period', month], env)));
      console.log(`tollgate adjacency run, ${EVENTS.toLocaleString('en-US')} events, beside a running serve (median of ${RUNS}): ${show(adjacency)}`);
    } finally {
      await serve.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function series(run: () => Promise<Figure>): Promise<Figure[]> {
  const out: Figure[] = [];
  for (let i = 0; i < RUNS; i++) out.push(await run());
  return out;
}

await main();
