import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { rounds } from '../../../src/ops/rounds.js';

describe('rounds', () => {
  it('never runs two rounds at once, carries on after a failed round, and stop() waits for the round in progress', async () => {
    let active = 0;
    let overlap = false;
    let n = 0;
    const errors: unknown[] = [];
    const loop = rounds({
      intervalMs: 1,
      run: async () => {
        overlap ||= active > 0;
        active++;
        n++;
        await sleep(5);
        active--;
        if (n === 2) throw new Error('round 2 failed');
      },
      onError: (err) => errors.push(err),
    });
    loop.start();
    loop.start(); // a second start is a no-op, not a second loop
    while (n < 4) await sleep(2);
    await loop.stop();
    const after = n;
    await sleep(20);
    expect(overlap).toBe(false);
    expect(errors).toEqual([new Error('round 2 failed')]);
    expect(active).toBe(0);
    expect(n).toBe(after);
  });

  it('does not start with an interval of 0 (off)', async () => {
    let n = 0;
    const loop = rounds({ intervalMs: 0, run: async () => void n++, onError: () => {} });
    loop.start();
    await sleep(10);
    await loop.stop();
    expect(n).toBe(0);
  });
});
