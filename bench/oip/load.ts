/**
 * Closed-loop HTTP load, in the manner of wrk: `concurrency` keep-alive connections, each sending
 * the same pre-serialised HTTP/1.1 request back-to-back and reading the reply with a minimal
 * parser (status line, headers, Content-Length body). Node's http client would cost the machine
 * about as much per request as a small model's inference, and on a 2-core machine every
 * microsecond the load generator spends is taken from the server under test. Only 200 replies that
 * complete inside the measured window count; every other status and network error is counted and
 * sampled.
 */
import type http from 'node:http';
import net from 'node:net';

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
  /** Called when the measured window opens and when it closes (e.g. to read CPU times). */
  window?: { opened(): void; closed(): void };
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

/** One keep-alive connection that sends the same request bytes and parses each reply. */
class Connection {
  private socket?: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (reply: HttpReply) => void; reject: (err: Error) => void };

  constructor(
    private readonly port: number,
    private readonly bytes: Buffer,
  ) {}

  async send(): Promise<HttpReply> {
    if (!this.socket) await this.connect();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket!.write(this.bytes);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: this.port, noDelay: true });
      socket.once('connect', () => {
        this.socket = socket;
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      const fail = (err: Error) => {
        this.socket = undefined;
        this.buffered = Buffer.alloc(0);
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting?.reject(err);
        reject(err);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('connection closed by the server')));
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = this.buffered.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: http.IncomingHttpHeaders = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    if (!Number.isInteger(length)) {
      this.socket?.destroy(new Error(`reply without Content-Length (status ${status})`));
      return;
    }
    if (this.buffered.length < end + 4 + length) return;
    const body = this.buffered.subarray(end + 4, end + 4 + length);
    this.buffered = this.buffered.subarray(end + 4 + length);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve({ status, headers, body });
  }
}

/** The request as bytes on the wire: request line, headers, body. */
function serialise(target: LoadTarget): Buffer {
  const headers = {
    ...target.headers,
    host: `127.0.0.1:${target.port}`,
    'content-length': String(target.body.length),
    connection: 'keep-alive',
  };
  const head = [`POST ${target.path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), target.body]);
}

export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const bytes = serialise(target);
  const measureStart = nowMs() + options.warmupMs;
  const measureEnd = measureStart + options.durationMs;
  const result: LoadResult = {
    completed: 0,
    requestsPerS: 0,
    latenciesMs: [],
    failures: new Map(),
    networkErrors: 0,
    networkErrorSample: '',
    serverTimings: { queueMs: [], inferenceMs: [] },
    verified: 0,
    bad: 0,
    badSamples: [],
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

  const connections: Connection[] = [];
  const loop = async () => {
    const connection = new Connection(target.port, bytes);
    connections.push(connection);
    while (nowMs() < measureEnd) {
      const startedAt = nowMs();
      try {
        const reply = await connection.send();
        record(reply, startedAt, nowMs());
      } catch (err) {
        result.networkErrors++;
        result.networkErrorSample ||= err instanceof Error ? err.message : String(err);
        await sleep(10); // a refused connection must not turn the loop into a busy spin
      }
    }
  };
  const window = { opened: false, closed: false };
  const close = () => {
    if (!window.opened || window.closed) return;
    window.closed = true;
    options.window?.closed();
  };
  const timers = [
    setTimeout(() => {
      window.opened = true;
      options.window?.opened();
    }, options.warmupMs),
    setTimeout(close, options.warmupMs + options.durationMs),
  ];
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  for (const timer of timers) clearTimeout(timer);
  close();
  for (const connection of connections) connection.close();
  result.requestsPerS = result.completed / (options.durationMs / 1000);
  return result;
}
