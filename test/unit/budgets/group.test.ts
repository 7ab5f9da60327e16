import { describe, expect, it } from 'vitest';
import { GroupQueue, KeyedGroupQueue } from '../../../src/budgets/group.js';

type Deferred = { items: number[]; settle(outs: string[] | Error): void };

/** A `send` whose statements the test answers by hand, in any order it likes. */
function manualSend() {
  const sent: Deferred[] = [];
  const send = (items: number[]) => new Promise<string[]>((resolve, reject) => {
    sent.push({ items, settle: (outs) => (outs instanceof Error ? reject(outs) : resolve(outs)) });
  });
  return { sent, send };
}

const answer = (items: number[]) => items.map((i) => `out-${i}`);
const settled = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('group queue', () => {
  it('sends an item at once when nothing is in flight', async () => {
    const { sent, send } = manualSend();
    const q = new GroupQueue(send, 64);
    const out = q.push(1);
    expect(sent.map((s) => s.items)).toEqual([[1]]);
    sent[0]!.settle(answer([1]));
    expect(await out).toBe('out-1');
  });

  it('groups what arrives while one is in flight, in order, up to its size, and answers each its own', async () => {
    const { sent, send } = manualSend();
    const q = new GroupQueue(send, 3);
    const outs = [1, 2, 3, 4, 5, 6].map((i) => q.push(i));
    expect(sent.map((s) => s.items)).toEqual([[1]]);

    sent[0]!.settle(answer([1]));
    await tick();
    expect(sent.map((s) => s.items)).toEqual([[1], [2, 3, 4]]);
    sent[1]!.settle(answer([2, 3, 4]));
    await tick();
    expect(sent.map((s) => s.items)).toEqual([[1], [2, 3, 4], [5, 6]]);
    sent[2]!.settle(answer([5, 6]));

    expect(await Promise.all(outs)).toEqual(answer([1, 2, 3, 4, 5, 6]));
    expect(q.sent).toEqual({ statements: 3, items: 6 });
  });

  it('rejects every item of a failed group with its error, and keeps sending after', async () => {
    const { sent, send } = manualSend();
    const q = new GroupQueue(send, 64);
    const first = settled(q.push(1));
    const group = [2, 3, 4].map((i) => settled(q.push(i)));
    const away = new Error('postgres away');
    sent[0]!.settle(away);
    await tick();
    sent[1]!.settle(away);

    expect(await first).toEqual({ error: away });
    expect(await Promise.all(group)).toEqual([{ error: away }, { error: away }, { error: away }]);
    const next = q.push(5);
    expect(sent.map((s) => s.items)).toEqual([[1], [2, 3, 4], [5]]);
    sent[2]!.settle(answer([5]));
    expect(await next).toBe('out-5');
  });

  it('rejects the group when send throws before returning a promise', async () => {
    let calls = 0;
    const q = new GroupQueue((items: number[]) => {
      if (calls++ === 0) throw new Error('no connection');
      return Promise.resolve(answer(items));
    }, 64);
    await expect(q.push(1)).rejects.toThrow('no connection');
    expect(await q.push(2)).toBe('out-2');
  });
});

describe('keyed group queue', () => {
  it("groups per key: one key's statement in flight does not hold up another key's calls", async () => {
    const { sent, send } = manualSend();
    const q = new KeyedGroupQueue(send, 64);
    const a1 = q.push('a', 1);
    const a2 = q.push('a', 2);
    const b1 = q.push('b', 10);
    // 'a' has one statement in flight and 2 waiting behind it; 'b' went at once.
    expect(sent.map((s) => s.items)).toEqual([[1], [10]]);
    sent[1]!.settle(answer([10]));
    expect(await b1).toBe('out-10');
    sent[0]!.settle(answer([1]));
    await tick();
    expect(sent.map((s) => s.items)).toEqual([[1], [10], [2]]);
    sent[2]!.settle(answer([2]));
    expect([await a1, await a2]).toEqual(['out-1', 'out-2']);
    expect(q.sent).toEqual({ statements: 3, items: 3 });
  });

  it('drops a key once its queue runs dry, also after a failure', async () => {
    const { sent, send } = manualSend();
    const q = new KeyedGroupQueue(send, 64);
    const out = settled(q.push('x', 1));
    expect(q.size).toBe(1);
    sent[0]!.settle(new Error('connection refused'));
    expect(await out).toEqual({ error: new Error('connection refused') });
    await tick();
    expect(q.size).toBe(0);
    const again = q.push('x', 2);
    sent[1]!.settle(answer([2]));
    expect(await again).toBe('out-2');
    await tick();
    expect(q.size).toBe(0);
  });
});
