/**
 * A progress line on stderr without a dependency: on a terminal, one line redrawn in place (at most ten
 * times a second); otherwise (a log file, CI) a plain line every `plainEveryMs`, so logs stay readable.
 * cli-progress would add bars and ETA styling we do not need for two commands.
 */
export type Progress = { update(done: number, detail?: string): void; done(summary: string): void };

export function createProgress(label: string, total: number | null, opts: { stream?: NodeJS.WriteStream; plainEveryMs?: number } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const every = tty ? 100 : (opts.plainEveryMs ?? 5000);
  const started = Date.now();
  let last = 0;
  const line = (done: number, detail = '') => {
    const secs = (Date.now() - started) / 1000;
    const pct = total ? ` ${((100 * done) / total).toFixed(1)}%` : '';
    const rate = secs > 0 ? ` ${Math.round(done / secs).toLocaleString('en-US')}/s` : '';
    return `${label}: ${done.toLocaleString('en-US')}${total ? `/${total.toLocaleString('en-US')}` : ''}${pct}${rate}${detail ? ` ${detail}` : ''}`;
  };
  return {
    update(done, detail) {
      const now = Date.now();
      if (now - last < every) return;
      last = now;
      stream.write(tty ? `\r\x1b[2K${line(done, detail)}` : `${line(done, detail)}\n`);
    },
    done(summary) {
      stream.write(tty ? `\r\x1b[2K${summary}\n` : `${summary}\n`);
    },
  };
}
