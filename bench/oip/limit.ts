/**
 * The machine's limit for a model: as many single-threaded sessions as the machine has cores,
 * each in its own worker thread running the model back-to-back. The pool stays open so the
 * best batch size can be measured again between HTTP cells (see run.ts's rounds).
 */
import { Worker } from 'node:worker_threads';
import type { ModelKey } from './feeds.js';
import type { FromLimitWorker, LimitWorkerInit, ToLimitWorker } from './limit.worker.js';

export interface LimitCell {
  batch: number;
  workers: number;
  itemsPerS: number;
  /** Latencies of one session.run at this batch size, over all workers. */
  runLatenciesMs: number[];
  /**
   * This process's CPU time per item over warm-up and window (nothing else runs in it meanwhile):
   * the inference's own CPU cost, which idle moments of the cores do not inflate.
   */
  cpuUsPerItem: number;
}

function nextMessage(worker: Worker): Promise<FromLimitWorker> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    worker.once('error', onError);
    worker.once('message', (message: FromLimitWorker) => {
      worker.off('error', onError);
      resolve(message);
    });
  });
}

export class LimitPool {
  private constructor(private readonly pool: Worker[]) {}

  /** Every session loaded before any timing starts. */
  static async open(key: ModelKey, modelPath: string, workers: number): Promise<LimitPool> {
    const url = new URL('./limit.worker.js', import.meta.url);
    const pool = Array.from({ length: workers }, (_, i) => {
      const init: LimitWorkerInit = { key, modelPath, seed: 100 + i };
      return new Worker(url, { workerData: init });
    });
    try {
      await Promise.all(pool.map(nextMessage));
    } catch (err) {
      await Promise.all(pool.map((worker) => worker.terminate()));
      throw err;
    }
    return new LimitPool(pool);
  }

  /** All workers run `batch` back-to-back for the same window. */
  async measure(batch: number, timing: { warmupMs: number; durationMs: number }): Promise<LimitCell> {
    const go: ToLimitWorker = { type: 'go', batch, ...timing };
    const replies = this.pool.map(nextMessage);
    const cpuBefore = process.cpuUsage();
    for (const worker of this.pool) worker.postMessage(go);
    const done = await Promise.all(replies);
    const cpu = process.cpuUsage(cpuBefore);
    let runs = 0;
    let allRuns = 0;
    const runLatenciesMs: number[] = [];
    for (const reply of done) {
      if (reply.type !== 'done') throw new Error(`limit worker answered ${reply.type}`);
      runs += reply.runs;
      allRuns += reply.warmupRuns + reply.runs;
      runLatenciesMs.push(...reply.runLatenciesMs);
    }
    const cpuUsPerItem = (cpu.user + cpu.system) / (allRuns * batch);
    return { batch, workers: this.pool.length, itemsPerS: (runs * batch) / (timing.durationMs / 1000), runLatenciesMs, cpuUsPerItem };
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.map((worker) => worker.terminate()));
  }
}
