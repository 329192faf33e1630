/**
 * Closed-loop HTTP load: `concurrency` loops, each sending the same pre-serialised request
 * back-to-back over a keep-alive agent. Only 200 replies that complete inside the measured
 * window count; every other status and network error is counted and sampled.
 */
import http from 'node:http';

export interface LoadTarget {
  port: number;
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface LoadOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** An error message when a 200 reply carries the wrong result. */
  verify?: (reply: HttpReply) => string | undefined;
}

export interface LoadResult {
  completed: number;
  requestsPerS: number;
  latenciesMs: number[];
  /** Non-200 statuses over the whole cell (warm-up included), with one sample body each. */
  failures: Map<number, { count: number; sample: string }>;
  networkErrors: number;
  networkErrorSample: string;
  /** Lathe's x-queue-time-ms and x-inference-time-ms headers of measured replies, when present. */
  serverTimings: { queueMs: number[]; inferenceMs: number[] };
  verified: number;
  bad: number;
  badSamples: string[];
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Verify the first few 200 replies and then one in VERIFY_EVERY, so batched replies are checked too. */
const VERIFY_FIRST = 3;
const VERIFY_EVERY = 200;

function send(agent: http.Agent, target: LoadTarget): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: target.port, path: target.path, method: 'POST', agent, headers: target.headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(target.body);
  });
}

export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const headers = { ...target.headers, 'content-length': String(target.body.length) };
  const request = { ...target, headers };
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const measureStart = nowMs() + options.warmupMs;
  const measureEnd = measureStart + options.durationMs;
  const result: LoadResult = {
    completed: 0, requestsPerS: 0, latenciesMs: [], failures: new Map(),
    networkErrors: 0, networkErrorSample: '', serverTimings: { queueMs: [], inferenceMs: [] }, verified: 0, bad: 0, badSamples: [],
  };
  let ok = 0;

  const record = (reply: HttpReply, startedAt: number, endedAt: number) => {
    if (reply.status !== 200) {
      const failure = result.failures.get(reply.status) ?? { count: 0, sample: reply.body.toString('utf8', 0, 300) };
      failure.count++;
      result.failures.set(reply.status, failure);
      return;
    }
    if (options.verify && (ok < VERIFY_FIRST || ok % VERIFY_EVERY === 0)) {
      result.verified++;
      const problem = options.verify(reply);
      if (problem !== undefined) {
        result.bad++;
        if (result.badSamples.length < 3) result.badSamples.push(problem);
      }
    }
    ok++;
    if (endedAt < measureStart || endedAt > measureEnd) return;
    result.completed++;
    if (startedAt < measureStart) return;
    result.latenciesMs.push(endedAt - startedAt);
    const queue = reply.headers['x-queue-time-ms'];
    const inference = reply.headers['x-inference-time-ms'];
    if (typeof queue === 'string') result.serverTimings.queueMs.push(Number(queue));
    if (typeof inference === 'string') result.serverTimings.inferenceMs.push(Number(inference));
  };

  const loop = async () => {
    while (nowMs() < measureEnd) {
      const startedAt = nowMs();
      try {
        const reply = await send(agent, request);
        record(reply, startedAt, nowMs());
      } catch (err) {
        result.networkErrors++;
        result.networkErrorSample ||= err instanceof Error ? err.message : String(err);
        await sleep(10); // a refused connection must not turn the loop into a busy spin
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  agent.destroy();
  result.requestsPerS = result.completed / (options.durationMs / 1000);
  return result;
}
