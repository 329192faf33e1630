/**
 * One ONNX Runtime session in a worker thread, run in a tight loop: the "limit" setup.
 * The parent sends one `go` per batch size and gets the run count and run latencies back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, randomFeeds, type ModelKey } from './feeds.js';

export interface LimitWorkerInit {
  key: ModelKey;
  modelPath: string;
  seed: number;
}
export type ToLimitWorker = { type: 'go'; batch: number; warmupMs: number; durationMs: number };
export type FromLimitWorker = { type: 'ready' } | { type: 'done'; warmupRuns: number; runs: number; runLatenciesMs: number[] };

const init = workerData as LimitWorkerInit;
const port = parentPort!;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const session = await createSession(init.modelPath);

port.on('message', async (message: ToLimitWorker) => {
  const feeds = randomFeeds(init.key, message.batch, init.seed);
  const warmEnd = nowMs() + message.warmupMs;
  let warmupRuns = 0;
  for (; nowMs() < warmEnd; warmupRuns++) await session.run(feeds);
  const runLatenciesMs: number[] = [];
  const end = nowMs() + message.durationMs;
  for (let t = nowMs(); t < end;) {
    await session.run(feeds);
    const after = nowMs();
    runLatenciesMs.push(after - t);
    t = after;
  }
  const reply: FromLimitWorker = { type: 'done', warmupRuns, runs: runLatenciesMs.length, runLatenciesMs };
  port.postMessage(reply);
});
port.postMessage({ type: 'ready' } satisfies FromLimitWorker);
