/**
 * The machine's limit for a model: as many single-threaded sessions as the machine has cores,
 * each in its own worker thread running the model back-to-back, at several batch sizes.
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

export async function measureLimit(
  key: ModelKey,
  modelPath: string,
  batches: number[],
  workers: number,
  timing: { warmupMs: number; durationMs: number },
  onCell: (cell: LimitCell) => void,
): Promise<LimitCell[]> {
  const url = new URL('./limit.worker.js', import.meta.url);
  const pool = Array.from({ length: workers }, (_, i) => {
    const init: LimitWorkerInit = { key, modelPath, seed: 100 + i };
    return new Worker(url, { workerData: init });
  });
  const cells: LimitCell[] = [];
  try {
    await Promise.all(pool.map(nextMessage)); // every session loaded before any timing starts
    for (const batch of batches) {
      const go: ToLimitWorker = { type: 'go', batch, ...timing };
      const replies = pool.map(nextMessage);
      for (const worker of pool) worker.postMessage(go);
      const done = await Promise.all(replies);
      let runs = 0;
      const runLatenciesMs: number[] = [];
      for (const reply of done) {
        if (reply.type !== 'done') throw new Error(`limit worker answered ${reply.type}`);
        runs += reply.runs;
        runLatenciesMs.push(...reply.runLatenciesMs);
      }
      const cell = { batch, workers, itemsPerS: (runs * batch) / (timing.durationMs / 1000), runLatenciesMs };
      cells.push(cell);
      onCell(cell);
    }
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return cells;
}
