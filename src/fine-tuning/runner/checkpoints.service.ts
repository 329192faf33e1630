import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { ArtifactsRepository, TRAINER_STATE_MEDIA_TYPE } from '../artifacts/artifacts.repository.js';
import { FineTuningDb, type Sql } from '../fine-tuning-db.js';
import { newId } from '../ids.js';
import { JobEventsRepository } from '../jobs/job-events.repository.js';
import { type CheckpointRow, type EpochRecord, JobMetricsRepository, type StepRecord } from '../jobs/job-metrics.repository.js';
import { JobsRepository } from '../jobs/jobs.repository.js';

export interface Checkpoint {
  /** Given when the save may be repeated: a repeat finds the first attempt's checkpoint and writes nothing. */
  id?: string;
  jobId: string;
  leaseToken: string;
  /** Its fine_tuned_model_checkpoint name. */
  name: string;
  step: number;
  /** Epochs finished. */
  epoch: number;
  /** The epoch this checkpoint ends; absent for a run paused mid-epoch. */
  record?: EpochRecord;
  /** Mean loss so far in the epoch, for a mid-epoch checkpoint. */
  trainLoss: number;
  totalEpochs: number;
  totalSteps: number;
  /** Steps not yet written (the heartbeat writes them too). */
  steps: readonly StepRecord[];
  state: Uint8Array;
}

/**
 * An epoch's end (or a pause mid-epoch), written in one transaction under the job's lease: the
 * trainer state as an artifact, its checkpoints row, the epoch's metrics and a metrics event. A
 * runner that lost its lease (cancelled, taken over) writes nothing. The same transaction applies
 * the retention policy (LATHE_CHECKPOINTS_KEEP_LAST, LATHE_CHECKPOINTS_KEEP_BEST) and deletes the
 * trainer states no checkpoint names any more, so a job's storage stays bounded however long it runs.
 * At boot the policy is applied to every job, so checkpoints kept by an older release or under a
 * looser setting go too.
 */
@Injectable()
export class CheckpointsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Checkpoints');

  constructor(
    private readonly db: FineTuningDb,
    private readonly jobs: JobsRepository,
    private readonly metrics: JobMetricsRepository,
    private readonly artifacts: ArtifactsRepository,
    private readonly events: JobEventsRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  save(c: Checkpoint): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (!(await this.jobs.holdsLease(c.jobId, c.leaseToken, tx))) return false;
      if (c.id && (await this.metrics.checkpointExists(c.id, tx))) return true;
      const artifact = await this.artifacts.insert('checkpoint', TRAINER_STATE_MEDIA_TYPE, c.state, c.jobId, tx);
      const e = c.record;
      const metrics = compact({
        step: c.step,
        train_loss: e?.train_loss ?? c.trainLoss,
        train_mean_token_accuracy: e?.train_accuracy,
        valid_loss: e?.valid_loss,
        valid_mean_token_accuracy: e?.valid_accuracy,
        full_valid_loss: e?.valid_loss,
        full_valid_mean_token_accuracy: e?.valid_accuracy,
      });
      await this.metrics.addCheckpoint(
        { id: c.id ?? newId('ftckpt'), jobId: c.jobId, stepNumber: c.step, epoch: c.epoch, metrics, artifactId: artifact.id },
        tx,
      );
      await this.prune(c.jobId, tx);
      await this.metrics.saveSteps(c.jobId, c.steps, tx);
      if (e) {
        await this.metrics.saveEpoch(c.jobId, e, tx);
        await this.events.add(
          c.jobId,
          {
            type: 'metrics',
            message: epochMessage(e, c.totalEpochs),
            data: { ...metrics, epoch: e.epoch, total_steps: c.totalSteps, checkpoint: c.name },
          },
          tx,
        );
      }
      return true;
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      const deleted = await this.db.transaction((tx) => this.prune(null, tx));
      if (deleted > 0) this.logger.log(`Retention: deleted ${deleted} checkpoint trainer state(s) outside the policy`);
    } catch (err) {
      // Storage is reclaimed at the next checkpoint of each job anyway; boot goes on.
      this.logger.warn(`Retention at boot failed: ${(err as Error).message}`);
    }
  }

  /** Applies the retention policy to one job (or all); returns the trainer states deleted. */
  private async prune(jobId: string | null, tx: Sql): Promise<number> {
    const { checkpointsKeepLast, checkpointsKeepBest } = this.config.storage;
    await this.metrics.pruneCheckpoints(jobId, checkpointsKeepLast === 'all' ? null : checkpointsKeepLast, checkpointsKeepBest, tx);
    // Also catches the state a resumed run's checkpoint replaced at the same step.
    return this.artifacts.deleteUnreferencedCheckpoints(jobId, tx);
  }

  /** The newest checkpoint and its trainer state, to resume from. */
  async latest(jobId: string): Promise<{ row: CheckpointRow; state: Buffer } | undefined> {
    const row = await this.metrics.latestCheckpoint(jobId);
    const found = row && (await this.artifacts.content(row.artifactId));
    return row && found ? { row, state: found.content } : undefined;
  }
}

function epochMessage(e: EpochRecord, totalEpochs: number): string {
  const parts = [`Epoch ${e.epoch}/${totalEpochs}, step ${e.step}: train loss ${e.train_loss.toFixed(4)}`];
  if (e.train_accuracy !== undefined) parts.push(`train accuracy ${e.train_accuracy.toFixed(4)}`);
  if (e.valid_loss !== undefined) parts.push(`valid loss ${e.valid_loss.toFixed(4)}`);
  if (e.valid_accuracy !== undefined) parts.push(`valid accuracy ${e.valid_accuracy.toFixed(4)}`);
  return parts.join(', ');
}

function compact(values: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, number] => e[1] !== undefined));
}
