import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Batchable, Batcher, type BatchPolicy, type Decision } from './batcher.js';

/** A request named for the assertions; enqueued `atUs` microseconds after time 0. */
interface Item extends Batchable {
  name: string;
}
const item = (name: string, key: string | null, rows = 1, atUs = 0): Item => ({ name, key, rows, enqueuedNs: BigInt(atUs) * 1000n });
const us = (n: number) => BigInt(n) * 1000n;

const policy = (over: Partial<BatchPolicy> = {}): BatchPolicy => ({
  maxBatchSize: 4,
  preferredBatchSizes: [],
  maxQueueDelayUs: 0,
  ...over,
});

function batcherWith(p: BatchPolicy | null, items: Item[], timeoutMs = 1000): Batcher<Item> {
  const b = new Batcher<Item>(p, timeoutMs);
  for (const i of items) b.push(i);
  return b;
}

/** A decision as names: ['a', 'b'] for a batch, { waitMs } for a wait, null for nothing. */
function shown(d: Decision<Item>): string[] | { waitMs: number } | null {
  if (!d) return null;
  return 'batch' in d ? d.batch.map((i) => i.name) : d;
}

describe('Batcher.next', () => {
  const cases: Array<{
    title: string;
    policy: BatchPolicy | null;
    items: Item[];
    nowUs: number;
    completeOnly?: boolean;
    expected: ReturnType<typeof shown>;
    left: string[];
  }> = [
    { title: 'an empty queue: nothing', policy: policy(), items: [], nowUs: 0, expected: null, left: [] },
    {
      title: 'no policy: each request alone, in arrival order',
      policy: null,
      items: [item('a', 'k'), item('b', 'k')],
      nowUs: 0,
      expected: ['a'],
      left: ['b'],
    },
    {
      title: 'a request with no key runs alone, even under a policy',
      policy: policy(),
      items: [item('scan', null), item('b', 'k')],
      nowUs: 0,
      expected: ['scan'],
      left: ['b'],
    },
    {
      title: "the head's key only, in queue order, skipping other keys",
      policy: policy({ maxBatchSize: 8 }),
      items: [item('a', 'k'), item('x', 'other'), item('b', 'k', 2), item('alone', null), item('c', 'k')],
      nowUs: 0,
      expected: ['a', 'b', 'c'],
      left: ['x', 'alone'],
    },
    {
      title: 'stops at the first request that would pass maxBatchSize (no reordering past it)',
      policy: policy({ maxBatchSize: 4 }),
      items: [item('a', 'k', 2), item('big', 'k', 3), item('c', 'k', 1)],
      nowUs: 0,
      expected: ['a'],
      left: ['big', 'c'],
    },
    {
      title: 'a full batch goes at once, however short the wait',
      policy: policy({ maxBatchSize: 3, maxQueueDelayUs: 10_000 }),
      items: [item('a', 'k', 2), item('b', 'k', 1), item('c', 'k', 1)],
      nowUs: 0,
      expected: ['a', 'b'],
      left: ['c'],
    },
    {
      title: 'a preferred size goes at once',
      policy: policy({ maxBatchSize: 8, preferredBatchSizes: [2], maxQueueDelayUs: 10_000 }),
      items: [item('a', 'k'), item('b', 'k')],
      nowUs: 0,
      expected: ['a', 'b'],
      left: [],
    },
    {
      title: 'an incomplete batch waits out the rest of maxQueueDelayUs, rounded up to whole ms',
      policy: policy({ maxBatchSize: 8, maxQueueDelayUs: 5_000 }),
      items: [item('a', 'k', 1, 0), item('b', 'k', 1, 1_000)],
      nowUs: 1_500,
      expected: { waitMs: 4 },
      left: ['a', 'b'],
    },
    {
      title: 'once the head has waited maxQueueDelayUs, the incomplete batch goes',
      policy: policy({ maxBatchSize: 8, maxQueueDelayUs: 5_000 }),
      items: [item('a', 'k', 1, 0), item('b', 'k', 1, 4_000)],
      nowUs: 5_000,
      expected: ['a', 'b'],
      left: [],
    },
    {
      title: 'no delay: an incomplete batch goes at once',
      policy: policy({ maxBatchSize: 8 }),
      items: [item('a', 'k')],
      nowUs: 0,
      expected: ['a'],
      left: [],
    },
    {
      title: 'completeOnly: an incomplete batch is held back, without a wait, even past the delay',
      policy: policy({ maxBatchSize: 4 }),
      items: [item('a', 'k'), item('b', 'k')],
      nowUs: 1_000_000,
      completeOnly: true,
      expected: null,
      left: ['a', 'b'],
    },
    {
      title: 'completeOnly: a full batch goes',
      policy: policy({ maxBatchSize: 2 }),
      items: [item('a', 'k'), item('b', 'k'), item('c', 'k')],
      nowUs: 0,
      completeOnly: true,
      expected: ['a', 'b'],
      left: ['c'],
    },
    {
      title: 'completeOnly: a request that runs alone is complete',
      policy: policy(),
      items: [item('scan', null)],
      nowUs: 0,
      completeOnly: true,
      expected: ['scan'],
      left: [],
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const b = batcherWith(c.policy, c.items);
      assert.deepEqual(shown(b.next(us(c.nowUs), c.completeOnly)), c.expected);
      assert.deepEqual(
        b.drain().map((i) => i.name),
        c.left,
      );
    });
  }

  it('drains a mixed queue batch by batch, each request exactly once', () => {
    const items = [item('a', 'k', 3), item('b', 'j'), item('c', 'k', 2), item('d', null), item('e', 'k', 1), item('f', 'j')];
    const b = batcherWith(policy({ maxBatchSize: 4 }), items);
    const batches: string[][] = [];
    for (let d = b.next(0n); d; d = b.next(0n)) {
      assert.ok('batch' in d);
      batches.push(d.batch.map((i) => i.name));
    }
    // 'a' (3 rows) and 'c' (2) pass 4 together; 'e' (1) is behind 'c', so it waits for c's batch.
    assert.deepEqual(batches, [['a'], ['b', 'f'], ['c', 'e'], ['d']]);
    assert.equal(b.length, 0);
  });
});

describe('Batcher queue and deadlines', () => {
  it('removes a request whose deadline passed, and only once', () => {
    const a = item('a', 'k');
    const b = batcherWith(policy(), [a, item('b', 'k')]);
    assert.equal(b.remove(a), true);
    assert.equal(b.remove(a), false);
    assert.equal(b.length, 1);
    assert.deepEqual(shown(b.next(0n)), ['b']);
  });

  it("gives the worker the request's deadline on the wall clock: timeout less the time already waited", () => {
    const b = new Batcher<Item>(policy(), 300);
    const a = item('a', 'k', 1, 50_000);
    // Accepted at 50 ms, dispatched at 170 ms: 120 ms of its 300 are gone.
    assert.equal(b.wallDeadline(a, us(170_000), 1_000_000), 1_000_180);
    assert.equal(b.wallDeadline(a, us(50_000), 1_000_000), 1_000_300);
  });
});
