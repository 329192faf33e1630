import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { WorkerReply } from './json-body.js';

const WORKER_URL = new URL('./json-body.worker.js', import.meta.url);

export interface JsonBodyPoolOptions {
  /** Worker threads, started on first use. */
  workers: number;
  /** Bodies that may wait for a worker; one more is refused with 429. */
  maxQueue: number;
  /** A worker idle this long ends (default 5 s). */
  idleMs?: number;
}

/**
 * A worker that parsed a 46 MB body keeps a V8 heap of that size for as long as it lives; ending idle
 * workers gives that memory back after a burst (bench/memory), and a new one starts in tens of ms.
 */
const IDLE_MS = 5_000;

interface Job {
  bytes: Uint8Array;
  resolve(reply: WorkerReply): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  idle?: NodeJS.Timeout;
}

/**
 * A small, bounded pool of JSON body parsers. One body per worker at a time; a full queue is 429
 * at once, as the model runners answer, never an unbounded backlog of megabyte bodies.
 */
export class JsonBodyPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private closed = false;
  /** Bodies parsed so far (tests and metrics read it). */
  parsed = 0;

  constructor(private readonly options: JsonBodyPoolOptions) {}

  /** Worker threads alive now. */
  get workers(): number {
    return this.slots.size;
  }

  /** Parses in a worker. `bytes` is moved there (detached) when it owns its whole buffer. */
  parse(bytes: Uint8Array): Promise<WorkerReply> {
    if (this.closed) return Promise.reject(new AppError(ErrorCode.Unavailable, 'the server is shutting down'));
    const free = [...this.slots].find((s) => !s.job) ?? (this.slots.size < this.options.workers ? this.spawn() : undefined);
    if (!free && this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new AppError(
          ErrorCode.Overloaded,
          `JSON body parsing: ${this.slots.size} running and ${this.queue.length} waiting (limit ${this.options.maxQueue}); retry later`,
          undefined,
          { 'retry-after': '1' },
        ),
      );
    }
    return new Promise<WorkerReply>((resolve, reject) => {
      const job = { bytes, resolve, reject };
      if (free) this.start(free, job);
      else this.queue.push(job);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.slots];
    this.slots.clear();
    for (const slot of slots) clearTimeout(slot.idle);
    const jobs = [...slots.flatMap((s) => (s.job ? [s.job] : [])), ...this.queue.splice(0)];
    for (const job of jobs) job.reject(new AppError(ErrorCode.Unavailable, 'the server is shutting down'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_URL) };
    // A pool nobody closed must not keep the process alive.
    slot.worker.unref();
    slot.worker.on('message', (reply: WorkerReply) => {
      const job = slot.job!;
      slot.job = undefined;
      this.parsed += 1;
      job.resolve(reply);
      this.next(slot);
    });
    const lost = (err: unknown) => {
      this.slots.delete(slot);
      slot.job?.reject(new AppError(ErrorCode.Internal, `a JSON body worker stopped: ${err instanceof Error ? err.message : String(err)}`));
      slot.job = undefined;
      // Whoever waits gets a fresh worker.
      if (!this.closed && this.queue.length > 0) this.start(this.spawn(), this.queue.shift()!);
    };
    slot.worker.on('error', lost);
    slot.worker.on('exit', (code) => {
      if (this.slots.has(slot)) lost(new Error(`exit code ${code}`));
    });
    this.slots.add(slot);
    return slot;
  }

  private start(slot: Slot, job: Job): void {
    clearTimeout(slot.idle);
    slot.job = job;
    const { bytes } = job;
    const owns = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    slot.worker.postMessage(bytes, owns ? [bytes.buffer as ArrayBuffer] : []);
  }

  private next(slot: Slot): void {
    const job = this.queue.shift();
    if (job) {
      this.start(slot, job);
      return;
    }
    slot.idle = setTimeout(() => {
      // Out of the pool first, so its exit is not taken for a crash.
      this.slots.delete(slot);
      void slot.worker.terminate();
    }, this.options.idleMs ?? IDLE_MS);
    slot.idle.unref();
  }
}
