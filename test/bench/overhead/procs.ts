import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/**
 * A target of the overhead bench: a process of its own, its URL, and how much CPU it has used so far, in all
 * (`cpuMicros`) and of that in the kernel (`kernelMicros`: its system calls, such as its sockets' reads and writes).
 */
export type Proc = { name: string; url: string; pid: number; cpuMicros(): number; kernelMicros(): number; stop(): Promise<void> };

/**
 * The Node flags `npm start` runs `tollgate serve` with (package.json's start script, between `node` and the
 * script): the benches run tollgate as an operator who follows README does, and print them.
 */
export function serveNodeFlags(root: string): string[] {
  const start = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const m = /^node((?: --[\w-]+(?:=\S+)?)*) dist\/cli\/main\.js serve$/.exec(start);
  if (!m) throw new Error(`package.json's start script is not "node [--flags] dist/cli/main.js serve": ${start}`);
  return m[1]!.trim() === '' ? [] : m[1]!.trim().split(' ');
}

const READY_TIMEOUT_MS = 60_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Starts `node args…` and waits for the process to be ready: a stdout line `{"ready": url}` (the bench's own
 * scripts), a line matching `ready` (a RegExp whose first group is the URL), or `ready.url` + `ready.path`
 * answering 200 (a server that logs nothing at the bench's log level).
 */
export async function startProc(name: string, args: string[], env: NodeJS.ProcessEnv, ready?: RegExp | { url: string; path: string }): Promise<Proc> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-10_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    if (ready !== undefined && !(ready instanceof RegExp)) void poll(ready.url + ready.path).then(() => resolve(ready.url), reject);
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms:\n${log}`)), READY_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready:\n${log}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      log = (log + line + '\n').slice(-10_000);
      const found = readyUrl(line, ready instanceof RegExp ? ready : undefined);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
  });
  return { name, url, pid: child.pid!, cpuMicros: () => processCpuMicros(child.pid!), kernelMicros: () => processCpu(child.pid!).kernel, stop: () => stop(child) };
}

async function poll(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function readyUrl(line: string, pattern: RegExp | undefined): string | undefined {
  if (pattern) return pattern.exec(line)?.[1];
  try {
    const parsed = JSON.parse(line) as { ready?: unknown };
    return typeof parsed.ready === 'string' ? parsed.ready : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of one process, from /proc/<pid>/stat. */
export function processCpuMicros(pid: number): number {
  const { user, kernel } = processCpu(pid);
  return user + kernel;
}

/** utime and stime of one process (µs), from /proc/<pid>/stat. */
export function processCpu(pid: number): { user: number; kernel: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1e6) / TICKS_PER_SECOND, kernel: (Number(fields[12]) * 1e6) / TICKS_PER_SECOND };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
