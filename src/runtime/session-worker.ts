import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors/app-error.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { InlineThread } from './inline-thread.js';
import type { PlainValue, WorkKind, WorkKinds } from './work.js';
import type { FromWorker, WorkerDone, WorkerFailed, WorkerInit, WorkerReady, WorkerRequest } from './worker-protocol.js';

const ENTRY = {
  session: new URL('./session.worker.js', import.meta.url),
  'session-embed': new URL('./session.worker.js', import.meta.url),
  'session-generate': new URL('./session.worker.js', import.meta.url),
  pipeline: new URL('./pipeline.worker.js', import.meta.url),
} satisfies Record<WorkerInit['kind'], URL>;

/** The answer to one batch of kind K. */
export type DoneOf<K extends WorkKind> = Extract<WorkerDone, { kind: K }>;

interface Pending {
  kind: WorkKind;
  resolve: (done: WorkerDone) => void;
  reject: (err: Error) => void;
  /** A streaming call's events. */
  onEvent?: (event: PlainValue) => void;
}

/**
 * A model's worker seen from the main thread. The worker runs its messages one at a time, in
 * order; the owner may post the next batch before the current one ends (see ModelRunner).
 * A crash is reported once.
 */
export class SessionWorker {
  private readonly worker: Worker | InlineThread;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  readonly ready: Promise<WorkerReady>;
  /** Batches posted and not yet answered (kept by WorkerPool). */
  inFlight = 0;
  onCrash?: (error: Error) => void;

  /** `inline`: the session is hosted on this thread (see InlineThread), for a model whose manifest opts in. */
  constructor(init: WorkerInit, options: { inline?: boolean } = {}) {
    if (options.inline) {
      if (init.kind === 'pipeline') throw new Error('a pipeline worker cannot run inline');
      this.worker = new InlineThread(init);
    } else {
      // Each worker is its own V8 isolate; ONNX Runtime's memory lives outside the heap.
      this.worker = new Worker(ENTRY[init.kind], { workerData: init, resourceLimits: { maxOldGenerationSizeMb: 512 } });
    }
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'load-failed') reject(new Error(message.error));
        else if (message.type === 'events') for (const { id, event } of message.events) this.pending.get(id)?.onEvent?.(event);
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

  /**
   * Posts one batch of kind K; `transfer` lists buffers handed to the worker rather than copied.
   * Rejects with the worker's ErrorCode when it fails the batch, 503 when the worker dies.
   */
  send<K extends WorkKind>(kind: K, batch: WorkKinds[K]['batch'], transfer: ArrayBuffer[] = []): Promise<DoneOf<K>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const settle = (done: WorkerDone) =>
        isDone(done, kind) ? resolve(done) : reject(new Error(`worker answered "${done.kind}" work to "${kind}"`));
      this.pending.set(id, { kind, resolve: settle, reject });
      this.worker.postMessage({ type: 'work', kind, id, batch } as WorkerRequest, transfer);
    });
  }

  /**
   * Posts one `generate` call; `onEvent` gets what the worker reports before its answer. Aborting
   * `signal` asks the worker to end the call before its next step (the call then rejects).
   */
  stream(batch: WorkKinds['generate']['batch'], onEvent: (event: PlainValue) => void, signal?: AbortSignal): Promise<DoneOf<'generate'>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const cancel = () => this.worker.postMessage({ type: 'cancel', id });
      signal?.addEventListener('abort', cancel, { once: true });
      const settle = (done: WorkerDone) =>
        isDone(done, 'generate') ? resolve(done) : reject(new Error(`worker answered "${done.kind}" work to "generate"`));
      const unhook = () => signal?.removeEventListener('abort', cancel);
      this.pending.set(id, {
        kind: 'generate',
        resolve: (done) => (unhook(), settle(done)),
        reject: (err) => (unhook(), reject(err)),
        onEvent,
      });
      this.worker.postMessage({ type: 'work', kind: 'generate', id, batch });
      if (signal?.aborted) cancel();
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

  private settle(message: WorkerDone | WorkerFailed): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.type === 'done') pending.resolve(message);
    else pending.reject(workerError(message));
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

function isDone<K extends WorkKind>(done: WorkerDone, kind: K): done is DoneOf<K> {
  return done.kind === kind;
}

/** A batch the model refused says so ("inference failed: ..."); other codes carry the worker's message as it is. */
function workerError(failed: WorkerFailed): AppError {
  const message = failed.code === ErrorCode.ValidationFailed ? `inference failed: ${failed.message}` : failed.message;
  return new AppError(failed.code, message, undefined, failed.headers);
}
