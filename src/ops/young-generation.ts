/**
 * Node's young generation (V8's semi-space) for `tollgate serve`: every call allocates its request, decision and
 * usage event, and with V8's default (16 MB a semi-space on 64-bit machines) the scavenger runs several times as
 * often as with 64 MB (README: Operations, with the bench's figures). The size can only be set when Node starts:
 * v8.setFlagsFromString changes nothing once the heap is set up, so `serve` says so when it was not set.
 */
export const RECOMMENDED_SEMI_SPACE_MB = 64;

const FLAG = /^--max[-_]semi[-_]space[-_]size(?:=(.*))?$/;

/**
 * The semi-space size (MB) Node was started with: `--max-semi-space-size` on its command line or in
 * NODE_OPTIONS (the command line wins, as in Node), `=N` or `N` as the next argument; null when neither sets it.
 */
export function semiSpaceMb(execArgv: readonly string[], nodeOptions: string | undefined): number | null {
  return lastSize(execArgv) ?? lastSize((nodeOptions ?? '').split(/\s+/).filter((a) => a !== ''));
}

function lastSize(args: readonly string[]): number | null {
  let size: number | null = null;
  for (let i = 0; i < args.length; i++) {
    const m = FLAG.exec(args[i]!);
    if (!m) continue;
    const n = Number(m[1] ?? args[i + 1]);
    if (Number.isFinite(n) && n > 0) size = n;
  }
  return size;
}
