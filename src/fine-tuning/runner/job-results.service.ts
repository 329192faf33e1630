import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { headTask } from '../../contracts/task-table.js';
import type { Evaluation } from '../../training/types.js';
import { ArtifactsRepository, ONNX_MEDIA_TYPE } from '../artifacts/artifacts.repository.js';
import { FilesRepository } from '../files/files.repository.js';
import { FineTuningDb } from '../fine-tuning-db.js';
import { newId } from '../ids.js';
import { JobEventsRepository } from '../jobs/job-events.repository.js';
import { type EpochRecord, type StepRecord } from '../jobs/job-metrics.repository.js';
import { type FinalMetrics, type JobRow, JobsRepository } from '../jobs/jobs.repository.js';
import { FineTunedModelsRepository } from '../models/fine-tuned-models.repository.js';
import type { JobData } from './job-data.service.js';

export interface Completion {
  job: JobRow;
  leaseToken: string;
  data: JobData;
  /** The kept weights exported as an ONNX head (by the training worker). */
  onnx: Uint8Array;
  epochs: readonly EpochRecord[];
  /** Held-out metrics of the kept weights. */
  validation?: Evaluation;
  /** Every step of the run, for the results file. */
  steps: readonly StepRecord[];
  stopped: string;
  trainedTokens: number;
}

/** `ft:<backbone>:<suffix>:<job id>`, OpenAI's pattern with the backbone for the base model. */
export function fineTunedModelName(job: Pick<JobRow, 'model' | 'suffix' | 'id'>): string {
  return `ft:${job.model}:${job.suffix ?? ''}:${job.id}`;
}

/**
 * The end of a successful run, in one transaction under the job's lease: the head as an ONNX
 * artifact, the results CSV as a file, the fine_tuned_models row with NOTIFY lathe_models, the
 * job's final state and events. A job cancelled at the last moment gets none of it.
 */
@Injectable()
export class JobResultsService {
  constructor(
    private readonly db: FineTuningDb,
    private readonly jobs: JobsRepository,
    private readonly artifacts: ArtifactsRepository,
    private readonly files: FilesRepository,
    private readonly models: FineTunedModelsRepository,
    private readonly events: JobEventsRepository,
  ) {}

  /** The model's name, or undefined when the job was no longer this runner's to finish. */
  async complete(c: Completion): Promise<string | undefined> {
    const { job, data } = c;
    const name = fineTunedModelName(job);
    const classification = job.task === 'classification';
    const final = finalMetrics(c.epochs, c.stopped, c.validation);
    const csv = Buffer.from(resultsCsv(c.steps, c.epochs));
    return this.db.transaction(async (tx) => {
      if (!(await this.jobs.holdsLease(job.id, c.leaseToken, tx))) return undefined;
      const head = await this.artifacts.insert('head', ONNX_MEDIA_TYPE, c.onnx, job.id, tx);
      const results = await this.files.insert(
        {
          id: newId('file'),
          filename: 'step_metrics.csv',
          purpose: 'fine-tune-results',
          bytes: csv.length,
          sha256: createHash('sha256').update(csv).digest('hex'),
          lineCount: csv.toString().split('\n').length - 1,
          content: csv,
          validation: null,
        },
        tx,
      );
      await this.models.register(
        {
          name,
          jobId: job.id,
          backbone: job.model,
          backboneVersion: data.backbone.version,
          backboneSha256: data.backboneSha256,
          datasetSha256: data.trainingFileSha256,
          headArtifactId: head.id,
          headSha256: head.sha256,
          task: headTask(data.backbone.input, classification ? 'classification' : 'regression'),
          labels: classification ? data.labels : null,
          inputDim: data.inputDim,
          outputDim: data.outputDim,
          metrics: { ...final },
        },
        tx,
      );
      await this.jobs.finish(
        job.id,
        c.leaseToken,
        'succeeded',
        { fineTunedModel: name, resultFiles: [results.id], trainedTokens: c.trainedTokens, headArtifactId: head.id, finalMetrics: final },
        tx,
      );
      await this.events.add(
        job.id,
        {
          message: `New fine-tuned model created: ${name}`,
          data: { fine_tuned_model: name, head_artifact_id: head.id, head_sha256: head.sha256, ...final },
        },
        tx,
      );
      await this.events.add(job.id, { message: 'The job has successfully completed' }, tx);
      return name;
    });
  }
}

/**
 * The kept weights' numbers: held-out metrics as the worker measured them on those weights, and
 * the training metrics of their epoch (the lowest validation loss, else the last epoch).
 */
export function finalMetrics(epochs: readonly EpochRecord[], stopped: string, validation?: Evaluation): FinalMetrics {
  const last = epochs.at(-1)!;
  const best = [...epochs].reverse().find((e) => e.improved) ?? last;
  return {
    train_loss: best.train_loss,
    ...(best.train_accuracy !== undefined ? { train_accuracy: best.train_accuracy } : {}),
    ...(validation ? { valid_loss: validation.loss } : {}),
    ...(validation?.accuracy !== undefined ? { valid_accuracy: validation.accuracy } : {}),
    ...(validation?.mse !== undefined ? { valid_mse: validation.mse } : {}),
    best_epoch: best.epoch,
    epochs: last.epoch,
    steps: last.step,
    stopped,
  };
}

/** OpenAI's results file: one row a step; validation columns on the steps that end an epoch. */
export function resultsCsv(steps: readonly StepRecord[], epochs: readonly EpochRecord[]): string {
  const atStep = new Map(epochs.map((e) => [e.step, e]));
  const cell = (v: number | undefined) => (v === undefined ? '' : String(v));
  const lines = steps.map((s) => {
    const e = atStep.get(s.step);
    return [s.step, s.epoch, s.train_loss, s.learning_rate, cell(e?.train_accuracy), cell(e?.valid_loss), cell(e?.valid_accuracy)].join(
      ',',
    );
  });
  return `step,epoch,train_loss,learning_rate,train_accuracy,valid_loss,valid_accuracy\n${lines.map((l) => `${l}\n`).join('')}`;
}
