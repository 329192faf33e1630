/**
 * The main-thread side of a training run: the Trainer runs in a worker thread (train.worker.ts)
 * because ONNX Runtime's session.run blocks its thread for each call. The job runner starts a
 * run, stores each epoch's checkpoint and metrics as they come, and may cancel it at any time.
 */
import { Worker } from 'node:worker_threads';
import type { ExportOptions } from './export-head.js';
import { TrainingSpecError } from './options.js';
import type { Dataset, EpochMetrics, Evaluation, HeadWeights, StepMetrics, StopReason, TrainOptions } from './types.js';

const WORKER_URL = new URL('./train.worker.js', import.meta.url);

export interface TrainingJob {
  options: TrainOptions;
  train: Dataset;
  validation?: Dataset;
  /** serializeState() bytes of an earlier run of the same job, to continue it. */
  state?: Uint8Array;
  /** When set, the outcome carries the best weights exported as an ONNX head. */
  export?: ExportOptions;
}

export interface TrainingEvents {
  /** After every step; they arrive in bursts of up to stepsPerRun. */
  onStep?: (metrics: StepMetrics) => void;
  /** After every finished or cancelled epoch, with the state to resume from. */
  onEpoch?: (metrics: EpochMetrics, checkpoint: Uint8Array) => void;
}

export interface TrainingOutcome {
  reason: StopReason;
  epoch: number;
  step: number;
  /** The best weights by validation loss; the last ones without validation data. */
  weights: HeadWeights;
  /** Validation metrics of those weights, when there is validation data. */
  validation?: Evaluation;
  /** serializeState() bytes of the final state (a cancelled run resumes from it). */
  state: Uint8Array;
  /** exportHeadOnnx() bytes of `weights`, when the job asked for an export. */
  model?: Uint8Array;
}

/** Messages the worker posts. */
export type TrainingMessage =
  | { type: 'steps'; metrics: StepMetrics[] }
  | { type: 'epoch'; metrics: EpochMetrics; checkpoint: Uint8Array }
  | { type: 'done'; outcome: TrainingOutcome }
  | { type: 'failed'; error: string; problems?: string[] };

/** The cancel flag's value for abort() (cancel() stores 1). */
export const ABORT = 2;

/** What the worker starts with: the job plus the shared cancel flag. */
export interface TrainingWorkerData extends TrainingJob {
  cancel: SharedArrayBuffer;
}

/** `done` of a run stopped by abort(): its thread was terminated and it has no outcome. */
export class TrainingAborted extends Error {
  override readonly name = 'TrainingAborted';
  constructor() {
    super('the training run was aborted');
  }
}

export class TrainingRun {
  /** Settles when the run ends: completed, stopped early, cancelled; rejects when it fails or is aborted. */
  readonly done: Promise<TrainingOutcome>;
  /** Resolves when the worker thread is gone (its memory with it). */
  readonly exited: Promise<void>;
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;
  private aborted = false;
  private rejectAborted: () => void = () => undefined;

  private constructor(job: TrainingJob, events: TrainingEvents) {
    const workerData: TrainingWorkerData = { ...job, cancel: this.cancelFlag.buffer as SharedArrayBuffer };
    this.worker = new Worker(WORKER_URL, { workerData });
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.done = new Promise<TrainingOutcome>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      this.rejectAborted = () => settle(() => reject(new TrainingAborted()));
      this.worker.on('message', (message: TrainingMessage) => {
        // After abort() nothing more is reported: what the run did after it does not count.
        if (this.aborted) return;
        if (message.type === 'steps') for (const m of message.metrics) events.onStep?.(m);
        else if (message.type === 'epoch') events.onEpoch?.(message.metrics, message.checkpoint);
        else if (message.type === 'done') settle(() => resolve(message.outcome));
        else settle(() => reject(message.problems ? new TrainingSpecError(message.problems) : new Error(message.error)));
      });
      this.worker.on('error', (err) => settle(() => reject(err)));
      this.worker.on('exit', (code) => settle(() => reject(new Error(`the training worker exited (code ${code}) before finishing`))));
    });
  }

  /** Starts training in a new worker thread. */
  static start(job: TrainingJob, events: TrainingEvents = {}): TrainingRun {
    return new TrainingRun(job, events);
  }

  /**
   * Asks the run to stop after the steps already running (at most stepsPerRun of them); `done`
   * then resolves with reason 'cancelled' and the state to resume from.
   */
  cancel(): void {
    Atomics.store(this.cancelFlag, 0, 1);
  }

  /**
   * Stops the run for good (a cancelled job, a lost lease, a run out of time): no more steps are
   * reported and `done` rejects with TrainingAborted at once; the thread skips the rest of the
   * epoch, any evaluation and the export, and exits when the ONNX Runtime call in progress returns
   * (the runner sizes calls so that is about one step; `exited` says when). Not worker.terminate():
   * terminating a thread inside onnxruntime-node aborts the whole process (a Napi::Error thrown
   * during teardown).
   */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    Atomics.store(this.cancelFlag, 0, ABORT);
    this.rejectAborted();
  }

  /** Stops the worker at once (shutdown); `done` rejects and no state is saved. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
