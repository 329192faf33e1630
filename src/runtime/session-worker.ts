import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { ScanSpec } from '../contracts/scan-spec.js';
import { type NamedTensors, type Tensor, transferables } from '../contracts/tensor.js';
import type { EmbedPart, FromWorker, WorkerInit, WorkerReady } from './worker-protocol.js';

const WORKER_URL = new URL('./session.worker.js', import.meta.url);
const PIPELINE_WORKER_URL = new URL('./pipeline.worker.js', import.meta.url);

export interface RunResult {
  outputs: NamedTensors;
  /** A pipeline worker's answer. */
  value?: unknown;
  /** Time the worker spent assembling the batch's inputs, and running the session. */
  inputNs: number;
  inferNs: number;
  /** When the worker began the run (process.hrtime.bigint()). */
  startedNs?: bigint;
}

interface Pending {
  resolve: (result: RunResult) => void;
  reject: (err: Error) => void;
}

/**
 * A session worker seen from the main thread. The worker runs its messages one at a time, in
 * order; the owner may post the next batch before the current one ends (see ModelRunner).
 * A crash is reported once.
 */
export class SessionWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  readonly ready: Promise<WorkerReady>;
  /** Batches posted and not yet answered. */
  inFlight = 0;
  onCrash?: (error: Error) => void;

  constructor(init: WorkerInit) {
    // Each worker is its own V8 isolate; ONNX Runtime's memory lives outside the heap.
    this.worker = new Worker(init.pipeline ? PIPELINE_WORKER_URL : WORKER_URL, {
      workerData: init,
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'load-failed') reject(new Error(message.error));
        else this.settle(message);
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', (err) => {
        reject(err);
        this.fail(err);
      });
      this.worker.once('exit', (code) => {
        const err = new Error(`session worker exited with code ${code}`);
        reject(err);
        this.fail(err);
      });
    });
    // A load failure is reported through `ready`; keep it from also being an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** Runs one batch; each input is given as its parts, one per request, concatenated in the worker along its batch axis. */
  run(inputs: Record<string, Tensor[]>, outputs: string[], axes?: Record<string, number | null>): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, inputs, outputs, axes }, transferables(Object.values(inputs).flat()));
    });
  }

  /**
   * Runs the model over a whole signal in the worker (see ScanSpec); the result's one output is
   * spec.output collected per window. The signal is copied unless `transfer` moves its buffer.
   */
  scan(spec: ScanSpec, signal: Float32Array, deadline: number, transfer: boolean): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const movable = transfer && signal.buffer instanceof ArrayBuffer;
      this.worker.postMessage({ type: 'scan', id, spec, signal, deadline }, movable ? [signal.buffer as ArrayBuffer] : []);
    });
  }

  /** A text worker's texts -> vectors for several requests' parts; the result's value is one EmbedAnswer per part. */
  embed(parts: EmbedPart[]): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'embed', id, parts });
    });
  }

  /** Runs a pipeline worker's pipeline on one input. */
  pipeline(input: Float32Array, options: Record<string, unknown>): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'pipeline', id, input, options });
    });
  }

  /**
   * Lets the run in progress finish, then releases the session. The thread is never terminated
   * inside a native run: that aborts the whole process.
   */
  async close(): Promise<void> {
    this.closing = true;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    while (this.pending.size > 0) await new Promise((r) => setTimeout(r, 10));
    this.worker.postMessage({ type: 'close' });
    await exited;
  }

  terminate(): Promise<number> {
    this.closing = true;
    return this.worker.terminate();
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  private settle(message: FromWorker): void {
    if (message.type !== 'result' && message.type !== 'run-failed') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.type === 'result')
      pending.resolve({
        outputs: message.outputs,
        value: message.value,
        inputNs: message.inputNs,
        inferNs: message.inferNs,
        startedNs: message.startedNs,
      });
    else pending.reject(new AppError(ErrorCode.ValidationFailed, `inference failed: ${message.error}`));
  }

  /** A crashed worker fails what it was running with 503; the owner replaces it. */
  private fail(err: Error): void {
    for (const p of this.pending.values()) {
      p.reject(new AppError(ErrorCode.Unavailable, `model instance crashed: ${err.message}`));
    }
    this.pending.clear();
    if (!this.closing) this.onCrash?.(err);
  }
}
