/**
 * A training run in a worker thread (see training-worker.ts): runs the Trainer epoch by epoch,
 * posts step and epoch metrics with a checkpoint per epoch, and stops when the shared cancel flag
 * is set. Its ONNX Runtime threads run at a lower priority than the thread that answers HTTP.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { exportHeadOnnx } from './export-head.js';
import { flattenWeights } from './head-layout.js';
import { TrainingSpecError } from './options.js';
import { deserializeState, serializeState } from './state-codec.js';
import { Trainer } from './trainer.js';
import { ABORT, type TrainingMessage, type TrainingOutcome, type TrainingWorkerData } from './training-worker.js';
import type { StepMetrics, StopReason } from './types.js';

const job = workerData as TrainingWorkerData;
const port = parentPort!;
const cancelFlag = new Int32Array(job.cancel);
// 1: stop at the next step boundary and report the state (a pause); 2: abort, nobody reads the result.
const cancelled = () => Atomics.load(cancelFlag, 0) !== 0;
const aborted = () => Atomics.load(cancelFlag, 0) === ABORT;
const post = (message: TrainingMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

// The trainer reports a call's steps together; one message carries them, sent before the next call blocks.
let pending: StepMetrics[] = [];
function reportStep(metrics: StepMetrics): void {
  if (pending.length === 0) setImmediate(flushSteps);
  pending.push(metrics);
}
function flushSteps(): void {
  if (pending.length > 0) post({ type: 'steps', metrics: pending });
  pending = [];
}

try {
  // Linux nice values are per thread and ONNX Runtime's threads inherit this one.
  setPriority(10);
} catch {
  // Not permitted (some containers): run at normal priority.
}

async function run(): Promise<void> {
  const { options, train, validation } = job;
  const trainer = job.state
    ? Trainer.resume(options, train, validation, deserializeState(job.state))
    : new Trainer(options, train, validation);
  trainer.interrupted = aborted;
  try {
    let reason: StopReason | undefined = trainer.finished;
    while (!reason) {
      if (cancelled()) {
        reason = 'cancelled';
        break;
      }
      const metrics = await trainer.runEpoch((m) => {
        reportStep(m);
        return !cancelled();
      });
      flushSteps();
      const checkpoint = serializeState(trainer.state());
      post({ type: 'epoch', metrics, checkpoint }, [checkpoint.buffer as ArrayBuffer]);
      reason = metrics.stopped;
    }
    if (aborted()) return;
    const weights = trainer.bestWeights();
    const evaluation = reason === 'cancelled' ? undefined : await trainer.evaluateValidation(flattenWeights(options.head, weights));
    const state = serializeState(trainer.state());
    // A copy (not Buffer#slice, a view): protobufjs may write small models into Node's shared Buffer pool.
    const model = job.export && reason !== 'cancelled' ? new Uint8Array(exportHeadOnnx(options.head, weights, job.export)) : undefined;
    const outcome: TrainingOutcome = { reason, epoch: trainer.epoch, step: trainer.step, weights, validation: evaluation, state, model };
    post({ type: 'done', outcome }, [state.buffer as ArrayBuffer, ...(model ? [model.buffer as ArrayBuffer] : [])]);
  } finally {
    await trainer.close();
  }
}

run().catch((err: unknown) => {
  const problems = err instanceof TrainingSpecError ? err.problems : undefined;
  post({ type: 'failed', error: err instanceof Error ? err.message : String(err), problems });
});
