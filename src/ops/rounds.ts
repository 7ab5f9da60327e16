/**
 * A background job that runs in rounds: each round starts `intervalMs` after the previous one ended (never
 * two at once, however long a round takes), a failed round is logged and the next one comes all the same,
 * and stop() waits for a round in progress. The notifier and the adjacency schedule run this way.
 */
export type Rounds = { start(): void; stop(): Promise<void> };

export function rounds(o: { intervalMs: number; run: () => Promise<unknown>; onError: (err: unknown) => void }): Rounds {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = o.run().catch(o.onError).finally(schedule);
    }, o.intervalMs);
    timer.unref();
  }

  return {
    start() {
      if (!stopped || o.intervalMs <= 0) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
