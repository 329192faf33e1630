/**
 * The dynamic batching policy, as Triton's dynamic batcher has it: requests with equal keys are
 * merged up to maxBatchSize rows, waiting at most maxQueueDelayUs for a preferred or full batch.
 * Pure: it keeps the queue and decides, and the caller owns threads, timers and clocks (every
 * decision takes the time as an argument).
 */

export interface BatchPolicy {
  maxBatchSize: number;
  /** Batch sizes worth running at once, without waiting for more requests. */
  preferredBatchSizes: number[];
  maxQueueDelayUs: number;
}

/** What the batcher reads of a queued request. */
export interface Batchable {
  /** Requests with equal keys may share a batch; null: the request always runs alone. Keys of different kinds of work never match. */
  readonly key: string | null;
  /** Rows along the batch axis, counted towards maxBatchSize. */
  readonly rows: number;
  /** process.hrtime.bigint() when the request was accepted. */
  readonly enqueuedNs: bigint;
}

/** A batch to run now, a wait (in ms, for a timer) before the head's batch should be looked at again, or nothing to do. */
export type Decision<T> = { batch: T[] } | { waitMs: number } | undefined;

export class Batcher<T extends Batchable> {
  private queue: T[] = [];

  /** `policy` null: every request runs alone (the model has no batch dimension, or batching is off). */
  constructor(
    private readonly policy: BatchPolicy | null,
    private readonly timeoutMs: number,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  push(item: T): void {
    this.queue.push(item);
  }

  /** The request at the head of the queue, left there. */
  peek(): T | undefined {
    return this.queue[0];
  }

  /** Takes a request out of the queue (its deadline passed); false when it was not queued. */
  remove(item: T): boolean {
    const index = this.queue.indexOf(item);
    if (index < 0) return false;
    this.queue.splice(index, 1);
    return true;
  }

  /** Empties the queue, returning what it held. */
  drain(): T[] {
    return this.queue.splice(0);
  }

  /**
   * The next batch: the head and the requests after it with its key, in queue order, up to
   * maxBatchSize rows. A batch that is neither full nor of a preferred size waits until the head
   * has waited maxQueueDelayUs. `completeOnly`: only a complete batch (full, preferred, or a
   * request that runs alone) and never a wait, for an instance that is still busy.
   */
  next(nowNs: bigint, completeOnly = false): Decision<T> {
    const head = this.queue[0];
    if (!head) return undefined;
    const policy = this.policy;
    if (!policy || head.key === null) return { batch: [this.queue.shift()!] };
    const picked: T[] = [];
    let rows = 0;
    for (const item of this.queue) {
      if (item.key !== head.key) continue;
      if (rows + item.rows > policy.maxBatchSize) break;
      picked.push(item);
      rows += item.rows;
    }
    const complete = rows >= policy.maxBatchSize || policy.preferredBatchSizes.includes(rows);
    if (!complete) {
      if (completeOnly) return undefined;
      const waitedUs = Number(nowNs - head.enqueuedNs) / 1e3;
      if (waitedUs < policy.maxQueueDelayUs) return { waitMs: Math.ceil((policy.maxQueueDelayUs - waitedUs) / 1e3) };
    }
    if (picked.length === this.queue.length) this.queue = [];
    else {
      const taken = new Set(picked);
      this.queue = this.queue.filter((item) => !taken.has(item));
    }
    return { batch: picked };
  }

  /** The request's deadline as a Date.now() value, for a worker that checks it on its own clock. */
  wallDeadline(item: T, nowNs: bigint, nowMs: number): number {
    return nowMs + this.timeoutMs - Number(nowNs - item.enqueuedNs) / 1e6;
  }
}
