/**
 * How the runner starts training: src/training's worker-thread run (ONNX Runtime blocks the
 * thread it runs on, so training never runs on the thread that answers HTTP). A token so a test
 * could put another runner behind the same shape.
 */
import { type TrainingEvents, type TrainingJob, type TrainingOutcome, TrainingRun } from '../../training/training-worker.js';

export interface RunningTraining {
  /** Resolves when the run ends (completed, early stopping, cancelled); rejects when it fails. */
  readonly done: Promise<TrainingOutcome>;
  /** Stops after the ONNX Runtime call in progress; `done` then resolves with reason 'cancelled'. */
  cancel(): void;
  /** Stops for good without an outcome: `done` rejects with TrainingAborted; the thread ends after the call in progress. */
  abort(): void;
  /** Resolves when the run's thread is gone. */
  readonly exited: Promise<void>;
}

export type StartTraining = (job: TrainingJob, events: TrainingEvents) => RunningTraining;

export const START_TRAINING = Symbol('START_TRAINING');

export const startTrainingWorker: StartTraining = (job, events) => TrainingRun.start(job, events);
