type Waiter<I, O> = { item: I; resolve(out: O): void; reject(err: unknown): void };

/**
 * Group commit for a statement whose callers contend on the same rows: an item pushed while nothing is in
 * flight is sent at once (no timer, no added latency); items pushed while one is in flight wait for it and
 * then go together, up to `maxGroup` per statement, in the order they came. `send` answers one output per
 * item, in order; if it fails, every item of its group is rejected with its error, and the next group is
 * sent all the same, so no caller waits on a failure.
 */
export class GroupQueue<I, O> {
  private waiting: Waiter<I, O>[] = [];
  private busy = false;
  /** Statements sent and items they carried, for tests and metrics. */
  readonly sent = { statements: 0, items: 0 };

  constructor(
    private readonly send: (items: I[]) => Promise<O[]>,
    private readonly maxGroup: number,
    private readonly onIdle: () => void = () => {},
  ) {}

  push(item: I): Promise<O> {
    const out = new Promise<O>((resolve, reject) => this.waiting.push({ item, resolve, reject }));
    if (!this.busy) void this.drain();
    return out;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.maxGroup);
      this.sent.statements++;
      this.sent.items += group.length;
      try {
        const outs = await this.send(group.map((w) => w.item));
        group.forEach((w, i) => w.resolve(outs[i]!));
      } catch (err) {
        for (const w of group) w.reject(err);
      }
    }
    this.busy = false;
    this.onIdle();
  }
}

/**
 * One GroupQueue per key (the use case): calls that share counter rows go in groups, while a group that waits
 * on one use case's locks never holds up another's calls. A key's queue is dropped when it runs dry, so keys
 * that come and go (any tag a caller sends) leave nothing behind.
 */
export class KeyedGroupQueue<I, O> {
  private queues = new Map<string, GroupQueue<I, O>>();
  /** Statements sent and items they carried, over every key, for tests and metrics. */
  readonly sent = { statements: 0, items: 0 };

  constructor(private readonly send: (items: I[]) => Promise<O[]>, private readonly maxGroup: number) {}

  push(key: string, item: I): Promise<O> {
    let queue = this.queues.get(key);
    if (!queue) {
      const created: GroupQueue<I, O> = new GroupQueue(async (items) => {
        this.sent.statements++;
        this.sent.items += items.length;
        return this.send(items);
      }, this.maxGroup, () => {
        if (this.queues.get(key) === created) this.queues.delete(key);
      });
      queue = created;
      this.queues.set(key, queue);
    }
    return queue.push(item);
  }

  /** Keys with calls waiting or in flight. */
  get size(): number {
    return this.queues.size;
  }
}
