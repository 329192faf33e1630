/**
 * The liveness prober, in its own thread so the load generator's event loop cannot delay it: a
 * GET /health/live on a fresh connection (as a kubelet probes) every `intervalMs`, until
 * `durationMs` have passed; posts every probe's latency in ms (Infinity for a failed probe).
 */
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

interface ProbeJob {
  port: number;
  intervalMs: number;
  durationMs: number;
  timeoutMs: number;
}

const { port, intervalMs, durationMs, timeoutMs } = workerData as ProbeJob;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function probe(): Promise<number> {
  const started = nowMs();
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/health/live', agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200 ? nowMs() - started : Infinity));
    });
    request.on('error', () => resolve(Infinity));
    request.setTimeout(timeoutMs, () => request.destroy());
  });
}

const latencies: number[] = [];
const end = nowMs() + durationMs;
while (nowMs() < end) {
  latencies.push(await probe());
  await sleep(intervalMs);
}
parentPort!.postMessage(latencies);
