import { Injectable, Logger } from '@nestjs/common';
import { FineTuningDb } from '../fine-tuning-db.js';
import { JobEventsRepository } from '../jobs/job-events.repository.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import { JobQueue } from './job-queue.service.js';

export const SWEEP_INTERVAL_MS = 5_000;
/** A runner that has not beaten for this long is taken to be hung, even if its connection lives. */
const STALE_HEARTBEAT_SECONDS = 60;
/** A runner without its lease lock (its connection broke) takes it again at its next heartbeat (1 s). */
const RELOCK_GRACE_SECONDS = 5;
/** Runs of one job that may end with the runner gone before the job is failed instead of retried. */
export const MAX_ATTEMPTS = 3;
/** A queued job whose message has not been picked up and run within this long is sent again. */
const QUEUED_RECHECK_SECONDS = 30;
const ACTIVE_GRACE_SECONDS = 60;

/**
 * Keeps jobs from staying "running" or "queued" forever, on every replica, at boot and every
 * SWEEP_INTERVAL_MS: a running job whose runner is gone (its advisory lock is free and its
 * heartbeat a few seconds old, or its heartbeat stale) is queued again to resume from its last checkpoint, or failed after
 * MAX_ATTEMPTS; a queued job whose message was lost with a replica gets a new one.
 */
@Injectable()
export class LeaseSweeper {
  private readonly logger = new Logger('FineTuningSweeper');
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly db: FineTuningDb,
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly queue: JobQueue,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One pass; failures are logged and retried at the next. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        await this.reclaimAbandoned();
        await this.resendLost();
        await this.closeLeftOver();
      } catch (err) {
        this.logger.warn(`Sweep failed: ${(err as Error).message}`);
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private async reclaimAbandoned(): Promise<void> {
    const ids = await this.db.transaction(async (tx) => {
      const abandoned = await this.jobs.findAbandoned(STALE_HEARTBEAT_SECONDS, RELOCK_GRACE_SECONDS, tx);
      for (const job of abandoned) {
        if (job.attempts >= MAX_ATTEMPTS) {
          const message = `the replica running this job stopped during ${job.attempts} runs in a row; giving up`;
          await this.jobs.finish(job.id, job.leaseToken!, 'failed', { error: { code: 'runner_lost', message, param: null } }, tx);
          await this.events.add(job.id, { level: 'error', message: `Fine-tuning job failed: ${message}` }, tx);
          await this.queue.close(job.id, 'failed', tx);
          continue;
        }
        await this.jobs.handBack(job.id, job.leaseToken!, tx);
        await this.jobs.setQueueJob(job.id, await this.queue.send(job.id, tx), tx);
        await this.events.add(
          job.id,
          { level: 'warn', message: 'The replica running this job stopped; the job is queued again and resumes from its last checkpoint' },
          tx,
        );
      }
      return abandoned.map((j) => j.id);
    });
    if (ids.length > 0) {
      this.logger.warn(`Recovered abandoned job(s): ${ids.join(', ')}`);
      this.queue.wake();
    }
  }

  private async resendLost(): Promise<void> {
    for (const job of await this.jobs.findQueuedBefore(QUEUED_RECHECK_SECONDS)) {
      if (job.queueJobId && (await this.queue.isLive(job.queueJobId, ACTIVE_GRACE_SECONDS))) continue;
      const resent = await this.db
        .transaction(async (tx) => {
          const next = await this.queue.send(job.id, tx);
          if (!(await this.jobs.replaceQueueJob(job.id, job.queueJobId, next, tx))) throw new MovedOn();
          return true;
        })
        .catch((err) => (err instanceof MovedOn ? false : Promise.reject(err)));
      if (resent) this.logger.warn(`Job ${job.id} had no live queue message; sent a new one`);
    }
    this.queue.wake();
  }

  /** Queue messages a killed runner left open for jobs that have finished (or that a newer message replaced). */
  private async closeLeftOver(): Promise<void> {
    const closed = await this.db.transaction((tx) => this.queue.closeLeftOver(tx));
    if (closed > 0) this.logger.warn(`Closed ${closed} queue message(s) left open for finished jobs`);
  }
}

class MovedOn extends Error {}
