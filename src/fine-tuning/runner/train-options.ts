/** From a job's resolved hyperparameters to the trainer's options, and back from its metrics. */
import { availableParallelism } from 'node:os';
import type { ExportOptions } from '../../training/export-head.js';
import { validationCount } from '../../training/options.js';
import type { EpochMetrics, HeadSpec, TrainOptions } from '../../training/types.js';
import type { ResolvedHyperparameters } from '../jobs/hyperparameters.js';
import { headParams, trainingSteps } from '../jobs/training-budget.js';
import type { EpochRecord } from '../jobs/job-metrics.repository.js';
import type { JobRow } from '../jobs/jobs.repository.js';
import type { JobData } from './job-data.service.js';
import { fineTunedModelName } from './job-results.service.js';

/**
 * Multiply-adds one ONNX Runtime call may do (steps × batch × head parameters, about 50 ms of CPU).
 * A call cannot be interrupted, and a cancel ends the run when the call in progress returns: big
 * heads get one step a call, small ones up to the trainer's default of 32.
 */
const CALL_WORK = 2 ** 25;
const MAX_STEPS_PER_RUN = 32;

export function stepsPerRun(
  hp: Pick<ResolvedHyperparameters, 'head' | 'hidden' | 'batch_size'>,
  inputDim: number,
  outputDim: number,
): number {
  const perStep = hp.batch_size * headParams(hp, inputDim, outputDim);
  return Math.max(1, Math.min(MAX_STEPS_PER_RUN, Math.floor(CALL_WORK / perStep)));
}

/** The head's shape (without dropout, which only training uses). */
export function headSpecOf(
  hp: Pick<ResolvedHyperparameters, 'head' | 'hidden' | 'activation'>,
  inputDim: number,
  outputDim: number,
): HeadSpec {
  return { kind: hp.head, inputDim, outputDim, ...(hp.head === 'mlp' ? { hidden: hp.hidden, activation: hp.activation } : {}) };
}

/** `runners`: jobs this replica trains at once (LATHE_TRAINING_RUNNERS), sharing the cores training gets. */
export function trainOptions(
  hp: ResolvedHyperparameters,
  data: Pick<JobData, 'inputDim' | 'outputDim' | 'validation'>,
  seed: number,
  runners = 1,
): TrainOptions {
  return {
    head: { ...headSpecOf(hp, data.inputDim, data.outputDim), ...(hp.dropout > 0 ? { dropout: hp.dropout } : {}) },
    loss: hp.loss,
    optimizer: {
      kind: hp.optimizer,
      learningRate: hp.learning_rate,
      ...(hp.momentum !== undefined ? { momentum: hp.momentum } : {}),
      weightDecay: hp.weight_decay,
      schedule: hp.schedule,
      warmupSteps: hp.warmup_steps,
    },
    epochs: hp.n_epochs,
    batchSize: hp.batch_size,
    seed,
    ...(hp.early_stopping_patience !== undefined ? { earlyStoppingPatience: hp.early_stopping_patience } : {}),
    ...(hp.validation_split > 0 && !data.validation ? { validationSplit: hp.validation_split } : {}),
    stepsPerRun: stepsPerRun(hp, data.inputDim, data.outputDim),
    // Training shares the machine with serving: half the cores, split between the runs at once.
    threads: Math.max(1, Math.floor(availableParallelism() / 2 / runners)),
  };
}

/** The head the worker exports at the end: class probabilities and the argmax for classifiers, logits for regression. */
export function exportOptions(job: JobRow, data: Pick<JobData, 'labels' | 'backboneSha256'>): ExportOptions {
  const classification = job.task === 'classification';
  return {
    output: classification ? 'prediction' : 'logits',
    labels: classification ? data.labels : undefined,
    metadata: {
      'lathe.model': fineTunedModelName(job),
      'lathe.job': job.id,
      'lathe.backbone': job.model,
      'lathe.backbone_sha256': data.backboneSha256,
    },
  };
}

/** Steps of the whole run, as the trainer counts them (examples held out by the split do not train). */
export function totalSteps(options: TrainOptions, examples: number, hasValidationSet: boolean): number {
  const held = options.validationSplit !== undefined && !hasValidationSet ? validationCount(examples, options.validationSplit) : 0;
  return trainingSteps({ batch_size: options.batchSize, n_epochs: options.epochs }, examples - held);
}

export function toEpochRecord(m: EpochMetrics): EpochRecord {
  const record: EpochRecord = { epoch: m.epoch, step: m.step, train_loss: m.trainLoss, improved: m.improved, seconds: m.seconds };
  if (m.trainAccuracy !== undefined) record.train_accuracy = m.trainAccuracy;
  if (m.validation) {
    record.valid_loss = m.validation.loss;
    if (m.validation.accuracy !== undefined) record.valid_accuracy = m.validation.accuracy;
    if (m.validation.mse !== undefined) record.valid_mse = m.validation.mse;
  }
  return record;
}
