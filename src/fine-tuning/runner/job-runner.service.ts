import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { InjectConfig } from '../../config/config.module.js';
import { AppError } from '../../common/errors/app-error.js';
import { isDatabaseUnavailable } from '../../common/errors/unavailable.js';
import { TrainingSpecError } from '../../training/options.js';
import { FineTuningDb } from '../fine-tuning-db.js';
import { JobEventsRepository, type NewEvent } from '../jobs/job-events.repository.js';
import { type JobError, type JobRow, JobsRepository } from '../jobs/jobs.repository.js';
import { JobQueue } from '../queue/job-queue.service.js';
import { FeaturesStopped } from './backbone-features.service.js';
import { JobLease, STALL_TOLERANCE_MS, type StopCause } from './job-lease.js';
import { JobSignals } from './job-signals.js';
import { JobTrainingService } from './job-training.service.js';

/** How long shutdown waits for a run to reach a clean stop (its current ONNX Runtime call) before giving up on it. */
const SHUTDOWN_WAIT_MS = 15_000;

/**
 * Runs the jobs this replica's queue fetcher hands it. A run first takes the job's advisory lock
 * on a connection it keeps (its lease: the lock goes when the process or the connection dies),
 * then claims the job queued -> running with a conditional UPDATE, so a job runs once however
 * many replicas got a message for it.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger('FineTuning');
  private readonly runs = new Map<string, { lease: JobLease; done: Promise<void> }>();

  constructor(
    private readonly db: FineTuningDb,
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly training: JobTrainingService,
    private readonly queue: JobQueue,
    signals: JobSignals,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    signals.onCancel((jobId) => this.runs.get(jobId)?.lease.requestStop('cancelled'));
  }

  async run(jobId: string): Promise<void> {
    let held = await this.db.hold();
    // Pooled on only once its lease lock is known to be gone: a stray lock would make this
    // replica skip the job's next message.
    let unlocked = false;
    try {
      if (!(await this.jobs.lockLease(jobId, held))) {
        unlocked = true;
        this.logger.log(`Job ${jobId} is leased by another runner; skipping its message`);
        return;
      }
      try {
        const token = randomUUID();
        const job = await this.jobs.claim(jobId, token);
        if (!job) return;
        const lease = new JobLease(job.id, token, this.jobs, (err, what) =>
          this.logger.warn(`Job ${job.id}: ${what} failed: ${err.message}`),
        );
        lease.keepLock = async () => {
          if (!held.lost) return true;
          const next = await this.db.hold();
          if (!(await this.jobs.lockLease(jobId, next).catch(() => false))) {
            await next.release(true);
            return false;
          }
          held = next;
          this.logger.warn(`Job ${job.id}: its lease connection broke; lease lock taken again`);
          return true;
        };
        const done = this.execute(job, lease);
        this.runs.set(job.id, { lease, done });
        await done;
      } finally {
        this.runs.delete(jobId);
        unlocked =
          !held.lost &&
          (await this.jobs.unlockLease(jobId, held).then(
            () => true,
            () => false,
          ));
      }
    } catch (err) {
      this.logger.error(`Job ${jobId}: ${(err as Error).message}`, (err as Error).stack);
    } finally {
      await held.release(!unlocked);
    }
  }

  /** Jobs whose run (and training thread) is in progress on this replica. */
  running(): string[] {
    return [...this.runs.keys()];
  }

  /** Stops every run here at its next step boundary and hands its job back to the queue. */
  async shutdown(): Promise<void> {
    const runs = [...this.runs.values()];
    for (const run of runs) run.lease.requestStop('shutdown');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_WAIT_MS)));
    await Promise.race([Promise.allSettled(runs.map((r) => r.done)), timeout]);
    clearTimeout(timer);
  }

  private async execute(job: JobRow, lease: JobLease): Promise<void> {
    const note = (event: NewEvent) => lease.persist(() => this.events.add(job.id, event));
    lease.start();
    // One run cannot hold this replica's runner (and the jobs queued behind it) without bound.
    const deadline = setTimeout(() => lease.requestStop('timeout'), this.config.fineTuning.maxRunSeconds * 1000);
    try {
      await note({ message: job.attempts > 1 ? `Fine-tuning job resumed (attempt ${job.attempts})` : 'Fine-tuning job started' });
      const outcome = await this.training.train({ job, lease, note, runners: this.config.fineTuning.runners });
      // The handler's return completes its own message; this closes any other one left open for the job.
      if (outcome === 'succeeded') await this.queue.close(job.id, 'succeeded', this.db);
      else await this.stopped(job, lease, outcome);
    } catch (err) {
      if (err instanceof FeaturesStopped) await this.stopped(job, lease, lease.stopping ?? 'lost');
      else if (isDatabaseUnavailable(err))
        this.logger.warn(
          `Job ${job.id}: the database did not answer within ${STALL_TOLERANCE_MS} ms; this run stops and the job resumes from its last checkpoint when the sweeper sees it abandoned`,
        );
      else await this.fail(job, lease, err as Error);
    } finally {
      clearTimeout(deadline);
      lease.end();
    }
  }

  private async stopped(job: JobRow, lease: JobLease, cause: StopCause): Promise<void> {
    const at = lease.progress ? ` at step ${lease.progress.step} (epoch ${lease.progress.epoch})` : '';
    if (cause === 'cancelled') {
      await this.events.add(job.id, { message: `Training stopped${at}: the job was cancelled; no model was registered` });
    } else if (cause === 'shutdown') {
      const handedBack = await lease.persist(() =>
        this.db.transaction(async (tx) => {
          if (!(await this.jobs.handBack(job.id, lease.token, tx))) return false;
          await this.jobs.setQueueJob(job.id, await this.queue.send(job.id, tx), tx);
          await this.events.add(
            job.id,
            {
              level: 'warn',
              message: `Training paused${at}: the replica running it is shutting down; the job is queued again and resumes from its last checkpoint`,
            },
            tx,
          );
          return true;
        }),
      );
      if (handedBack) this.logger.log(`Job ${job.id} handed back to the queue`);
    } else if (cause === 'timeout') {
      const limit = this.config.fineTuning.maxRunSeconds;
      await this.failWith(job, lease, {
        code: 'training_timeout',
        message: `the run was stopped${at} after ${limit} s, the longest a run may take here (LATHE_TRAINING_MAX_SECONDS)`,
        param: null,
      });
    } else {
      this.logger.warn(`Job ${job.id} stopped here: its lease passed to another runner`);
    }
  }

  private async fail(job: JobRow, lease: JobLease, err: Error): Promise<void> {
    const error = jobError(err);
    if (error.code === 'internal_error') this.logger.error(`Job ${job.id} failed: ${err.message}`, err.stack);
    await this.failWith(job, lease, error);
  }

  private async failWith(job: JobRow, lease: JobLease, error: JobError): Promise<void> {
    await lease.persist(() =>
      this.db.transaction(async (tx) => {
        if (await this.jobs.finish(job.id, lease.token, 'failed', { error }, tx)) {
          await this.events.add(job.id, { level: 'error', message: `Fine-tuning job failed: ${error.message}`, data: { ...error } }, tx);
          await this.queue.close(job.id, 'failed', tx);
        }
      }),
    );
  }
}

/** OpenAI's job error object for what went wrong. */
export function jobError(err: Error): JobError {
  if (err instanceof AppError) {
    const param = (err.details as { param?: unknown } | undefined)?.param;
    return { code: err.code.toLowerCase(), message: err.message, param: typeof param === 'string' ? param : null };
  }
  if (err instanceof TrainingSpecError) return { code: 'invalid_hyperparameters', message: err.message, param: 'hyperparameters' };
  if (/training diverged/.test(err.message))
    return { code: 'training_diverged', message: err.message, param: 'hyperparameters.learning_rate' };
  return { code: 'internal_error', message: `training failed: ${err.message}`, param: null };
}
