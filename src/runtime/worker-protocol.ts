import type { ErrorCode } from '../common/errors/error-code.js';
import type { PlainValue, WorkKind, WorkKinds } from './work.js';

/** Messages between the scheduler (main thread) and a model's worker threads. */

export interface SessionOptions {
  modelPath: string;
  /** Tried in order; the first that loads serves. */
  providers: string[];
  intraOpThreads: number;
  /**
   * Whether ONNX Runtime's intra-op threads spin while waiting for work (`allow_spinning`); unset,
   * its default (they do). Off, they sleep: the cores are free for the JavaScript a worker runs
   * between runs and for the HTTP thread, at the cost of a wake-up per parallel section.
   */
  spinning?: boolean;
}

/**
 * Domain code a worker loads by module URL (see worker-extension.ts); `config` is that module's
 * own settings, which it validates.
 */
export interface ExtensionRef {
  /** A file: URL. */
  module: string;
  config: unknown;
}

/** What a worker starts as: one variant per kind of worker. */
export type WorkerInit =
  /** One ONNX Runtime session: `run` and `scan`. */
  | { kind: 'session'; session: SessionOptions }
  /** A session plus an extension that encodes and pools inputs around it: `run`, `scan` and `embed`. */
  | { kind: 'session-embed'; session: SessionOptions; embed: ExtensionRef }
  /** A session plus an extension whose decoder loop answers `generate` (streamed, cancellable): `run` too. */
  | { kind: 'session-generate'; session: SessionOptions; generate: ExtensionRef }
  /** No session of the runtime's own: an extension's program (e.g. a Transformers.js pipeline) answers `pipeline`. */
  | { kind: 'pipeline'; providers: string[]; intraOpThreads: number; pipeline: ExtensionRef };

export interface TensorInfo {
  name: string;
  /** ONNX Runtime's element type, e.g. "float32". */
  type: string;
  /** Dimensions; a string or -1 for a dynamic one. */
  shape: Array<number | string>;
}

/** One piece of work for a worker: a batch of one kind. */
export type WorkerRequest = { [K in WorkKind]: { type: 'work'; kind: K; id: number; batch: WorkKinds[K]['batch'] } }[WorkKind];
export type WorkerClose = { type: 'close' };
/** Ends a `generate` call early (its caller went away); the worker answers it with a failure. */
export type WorkerCancel = { type: 'cancel'; id: number };
export type ToWorker = WorkerRequest | WorkerClose | WorkerCancel;

export interface WorkTiming {
  /** process.hrtime.bigint() when the worker began this message (the clock is the process's, shared by its threads). */
  startedNs: bigint;
  /** Time the worker spent assembling inputs (and anything else outside the runs), and inside the runs. */
  inputNs: number;
  inferNs: number;
  /** A host on the main thread (inline): how long this message held that thread, its waits for the event loop left out. */
  blockedNs?: number;
}

export type WorkerReady = {
  type: 'ready';
  provider: string;
  /** Providers tried before `provider` and why each failed to load. */
  fallbacks: Array<{ provider: string; error: string }>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
};
export type WorkerLoadFailed = { type: 'load-failed'; error: string };
/** The answer to one WorkerRequest, of the request's kind. */
export type WorkerDone = {
  [K in WorkKind]: { type: 'done'; kind: K; id: number; answer: WorkKinds[K]['answer']; timing: WorkTiming };
}[WorkKind];
/**
 * A WorkerRequest that failed as a whole. `code` says how: DEADLINE_EXCEEDED when the worker
 * stopped at the request's deadline, VALIDATION_FAILED when the model refused the inputs, INTERNAL
 * for work the worker does not do.
 */
export type WorkerFailed = { type: 'failed'; id: number; code: ErrorCode; message: string; headers?: Record<string, string> };
/**
 * What streaming calls (`generate`) report before their answers: the events every call emitted in
 * one turn of the worker's loop (a decode step's tokens for all its sequences), in emission order.
 */
export type WorkerEvents = { type: 'events'; events: Array<{ id: number; event: PlainValue }> };
export type FromWorker = WorkerReady | WorkerLoadFailed | WorkerDone | WorkerFailed | WorkerEvents;

/**
 * A worker's message listener that handles one message at a time, in arrival order: the main
 * thread may post the next batch while one runs, and each run's time must be its own.
 */
export function inOrder<M extends ToWorker>(handle: (message: M) => Promise<void>): (message: M) => void {
  let previous: Promise<void> = Promise.resolve();
  return (message) => {
    previous = previous.then(() => handle(message));
  };
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
}
