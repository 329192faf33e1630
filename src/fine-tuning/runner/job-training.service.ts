import { Inject, Injectable } from '@nestjs/common';
import { TrainingSpecError } from '../../training/options.js';
import { TrainingAborted, type TrainingOutcome } from '../../training/training-worker.js';
import type { EpochMetrics, TrainOptions } from '../../training/types.js';
import type { NewEvent } from '../jobs/job-events.repository.js';
import { type EpochRecord, JobMetricsRepository, type StepRecord } from '../jobs/job-metrics.repository.js';
import type { JobRow } from '../jobs/jobs.repository.js';
import { newId } from '../ids.js';
import { CheckpointsService } from './checkpoints.service.js';
import { type JobData, JobDataService } from './job-data.service.js';
import type { JobLease, StopCause } from './job-lease.js';
import { fineTunedModelName, JobResultsService } from './job-results.service.js';
import { exportOptions, toEpochRecord, totalSteps, trainOptions } from './train-options.js';
import { START_TRAINING, type StartTraining } from './training-session.js';
import { checkpointModelName } from '../models/model-names.js';

export interface RunContext {
  job: JobRow;
  lease: JobLease;
  /** Adds an event to the job. */
  note(event: NewEvent): Promise<void>;
  /** Runs this replica may have at once (they share the training threads). */
  runners: number;
}

interface Resume {
  state?: Uint8Array;
  step: number;
}

/**
 * One run of a claimed job: features, then training in a worker thread from the last checkpoint
 * on (each epoch's checkpoint and metrics written as it arrives, in order), then the head's
 * export and registration. Returns how it ended; throws when it fails.
 */
@Injectable()
export class JobTrainingService {
  constructor(
    private readonly data: JobDataService,
    private readonly checkpoints: CheckpointsService,
    private readonly metrics: JobMetricsRepository,
    private readonly results: JobResultsService,
    @Inject(START_TRAINING) private readonly start: StartTraining,
  ) {}

  async train(ctx: RunContext): Promise<'succeeded' | StopCause> {
    const { job, lease } = ctx;
    const data = await this.data.load(job, () => lease.stopping !== undefined);
    for (const message of data.featureNotes) await ctx.note({ message });
    const options = trainOptions(job.hyperparameters, data, job.seed, ctx.runners);
    let resume = await this.resumePoint(ctx);
    let outcome: { result?: TrainingOutcome; epochs: EpochRecord[] } | undefined;
    while (!outcome) {
      try {
        outcome = await this.runTraining(ctx, options, data, resume);
      } catch (err) {
        // A checkpoint made with other options or data (the backbone changed): start over once.
        if (!(err instanceof TrainingSpecError) || !resume.state) throw err;
        await ctx.note({
          level: 'warn',
          message: `Checkpoint at step ${resume.step} does not fit this run (${err.problems.join('; ')}); training from the start`,
        });
        await this.metrics.dropStepsAfter(job.id, 0, 0);
        resume = { step: 0 };
      }
    }
    const { result, epochs } = outcome;
    if (!result || result.reason === 'cancelled') return lease.stopping ?? (await lease.confirm()) ?? 'lost';
    const steps = (await lease.persist(() => this.metrics.history(job.id))).steps;
    // Repeated after a stall, it finds the lease gone if the first attempt committed after all.
    const name = await lease.persist(() =>
      this.results.complete({
        job,
        leaseToken: lease.token,
        data,
        onnx: result.model!,
        epochs,
        validation: result.validation,
        steps,
        stopped: result.reason,
        trainedTokens: Math.round(data.trainTokens * (1 - job.hyperparameters.validation_split) * result.epoch),
      }),
    );
    return name ? 'succeeded' : ((await lease.confirm()) ?? 'lost');
  }

  /** The newest checkpoint's state; the history after it is dropped (those steps run again). */
  private async resumePoint(ctx: RunContext): Promise<Resume> {
    const checkpoint = await this.checkpoints.latest(ctx.job.id);
    if (!checkpoint) {
      await this.metrics.dropStepsAfter(ctx.job.id, 0, 0);
      return { step: 0 };
    }
    const { stepNumber: step, epoch } = checkpoint.row;
    await this.metrics.dropStepsAfter(ctx.job.id, step, epoch);
    await ctx.note({
      message: `Resumed from the checkpoint at step ${step} (${epoch} epoch${epoch === 1 ? '' : 's'} done)`,
      data: { step, epoch },
    });
    return { state: checkpoint.state, step };
  }

  /** The run's outcome; none when it was aborted (cancelled, lease lost, out of time). Ends when its thread has. */
  private async runTraining(
    ctx: RunContext,
    options: TrainOptions,
    data: JobData,
    resume: Resume,
  ): Promise<{ result?: TrainingOutcome; epochs: EpochRecord[] }> {
    const { job, lease } = ctx;
    const epochs = (await this.metrics.history(job.id)).epochs;
    const total = totalSteps(options, data.train.n, data.validation !== undefined);
    const pending: StepRecord[] = [];
    // Steps whose write failed go back in front, in order. Not by spreading them into unshift: a
    // backlog trained while the database was away can be far more steps than a call takes arguments.
    const putBack = (steps: readonly StepRecord[]) => {
      const later = pending.splice(0);
      for (const list of [steps, later]) for (const step of list) pending.push(step);
    };
    let saving = Promise.resolve();
    let paused: { metrics: EpochMetrics; checkpoint: Uint8Array } | undefined;
    const save = async (metrics: EpochMetrics, checkpoint: Uint8Array, record?: EpochRecord) => {
      const steps = pending.splice(0);
      // One id for every attempt: a save repeated after a stall finds its own checkpoint if it landed.
      const id = newId('ftckpt');
      const saved = await lease
        .persist(() =>
          this.checkpoints.save({
            id,
            jobId: job.id,
            leaseToken: lease.token,
            name: checkpointModelName(fineTunedModelName(job), metrics.step),
            step: metrics.step,
            epoch: metrics.epoch,
            record,
            trainLoss: metrics.trainLoss,
            totalEpochs: options.epochs,
            totalSteps: total,
            steps,
            state: checkpoint,
          }),
        )
        .catch((err: unknown) => {
          putBack(steps);
          throw err;
        });
      // Not saved (the job was cancelled meanwhile): its steps are still to be written.
      if (!saved) putBack(steps);
      return saved;
    };
    const run = this.start(
      { options, train: data.train, validation: data.validation, state: resume.state, export: exportOptions(job, data) },
      {
        onStep: (s) => {
          pending.push({ step: s.step, epoch: s.epoch + 1, train_loss: s.loss, learning_rate: s.learningRate, batch_size: s.batchSize });
          lease.progress = { step: s.step, epoch: s.epoch + 1 };
        },
        onEpoch: (metrics, checkpoint) => {
          if (metrics.stopped === 'cancelled') {
            paused = { metrics, checkpoint };
            return;
          }
          const record = toEpochRecord(metrics);
          epochs.push(record);
          lease.estimatedFinish = estimate(epochs, options.epochs);
          // In order, one at a time, while the worker trains on; a lost lease stops the run.
          saving = saving.then(async () => {
            const saved = await save(metrics, checkpoint, record).catch((err: unknown) => {
              run.cancel();
              throw err;
            });
            if (!saved) run.cancel();
          });
          // Awaited after the run; until then a failed save must not count as unhandled (it would end the process).
          saving.catch(() => undefined);
        },
      },
    );
    // A pause at shutdown keeps the half-done epoch; any other stop ends the job's run for good, so
    // the run is aborted: its thread skips the rest of the epoch, any validation pass and the export.
    const stop = (cause: StopCause) => (cause === 'shutdown' ? run.cancel() : run.abort());
    lease.onStop(stop);
    if (lease.stopping) stop(lease.stopping);
    // Heartbeats write the steps so far; writes are chained so the last one is known to be done.
    let writing = Promise.resolve();
    // Steps whose write failed go back to be written with the next beat.
    const flush = () =>
      (writing = writing
        .catch(() => undefined)
        .then(async () => {
          const steps = pending.splice(0);
          await this.metrics.saveSteps(job.id, steps).catch((err: unknown) => {
            putBack(steps);
            throw err;
          });
        }));
    lease.onBeat = flush;
    try {
      const result = await run.done.catch((err: unknown) => (err instanceof TrainingAborted ? undefined : Promise.reject(err)));
      await saving;
      // Handing back at shutdown: keep the half-done epoch, so the next run loses nothing, when
      // every step in it was reported (a stop can apply steps whose metrics were not sent).
      if (
        result?.reason === 'cancelled' &&
        lease.stopping === 'shutdown' &&
        paused &&
        paused.metrics.step > resume.step &&
        paused.metrics.step === lease.progress?.step
      ) {
        await save(paused.metrics, paused.checkpoint);
      } else if (lease.stopping !== 'lost') {
        await lease.persist(flush);
      }
      return { result, epochs };
    } finally {
      lease.onBeat = async () => undefined;
      await Promise.allSettled([saving, writing]);
      await run.exited;
    }
  }
}

/** Now plus the remaining epochs at the mean pace of those done in this run. */
function estimate(epochs: readonly EpochRecord[], total: number): Date | null {
  const timed = epochs.filter((e) => e.seconds > 0);
  if (timed.length === 0) return null;
  const perEpoch = timed.reduce((s, e) => s + e.seconds, 0) / timed.length;
  return new Date(Date.now() + Math.max(0, total - epochs.at(-1)!.epoch) * perEpoch * 1000);
}
